"""A two-hop world: the question names the film, the answer sits in the paragraph about
its star, which shares no word with the question."""

from __future__ import annotations

from rag_plugins import Document, KnowledgeBase

QUESTION = "What government position was held by the woman who portrayed Corliss Archer in the film Kiss and Tell?"
BRIDGE = "Shirley Temple"
PARAGRAPHS = [
    ("kiss", "Kiss and Tell (1945 film)",
     "Kiss and Tell is a 1945 American comedy film starring Shirley Temple as Corliss Archer. "
     "It was directed by Richard Wallace."),
    ("temple", "Shirley Temple",
     "Shirley Temple Black was an American actress and singer. Later she served as Chief of Protocol of the "
     "United States and as ambassador to Ghana."),
    ("radio", "Meet Corliss Archer",
     "Meet Corliss Archer is an American radio sitcom that aired from 1943 to 1956."),
    ("wallace", "Richard Wallace",
     "Richard Wallace was an American director of comedies and dramas."),
    ("ghana", "Ghana", "Ghana is a country in West Africa with a coastline on the Gulf of Guinea."),
    ("bread", "Sourdough", "Sourdough bread needs a starter, flour, water and salt."),
]


def build_kb(path) -> KnowledgeBase:
    kb = KnowledgeBase.open(path, show_progress=False)
    kb.upsert([Document(i, text, {"title": title}) for i, title, text in PARAGRAPHS])
    kb.commit()
    return kb
