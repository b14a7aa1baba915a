"""A tiny labelled world for confidence and abstention tests, shared by the core and the
framework adapters: six answerable topics, filler, and questions nothing here answers."""

from __future__ import annotations

from rag_plugins import Document, KnowledgeBase
from rag_plugins.confidence import ConfidenceEstimator

TOPICS = {
    "eiffel": "The Eiffel Tower is 330 metres tall and stands in Paris.",
    "nile": "The Nile is the longest river in Africa, flowing north to the Mediterranean.",
    "everest": "Mount Everest is the highest mountain above sea level, in the Himalayas.",
    "python": "Python is a programming language created by Guido van Rossum.",
    "insulin": "Insulin is a hormone that regulates blood glucose.",
    "jupiter": "Jupiter is the largest planet of the solar system, a gas giant.",
}
ANSWERABLE = ["how tall is the Eiffel Tower", "longest river in Africa", "highest mountain Himalayas",
              "who created the Python programming language", "hormone regulating blood glucose",
              "largest planet gas giant", "Eiffel Tower Paris", "Nile river Mediterranean"]
UNANSWERABLE = ["quantum chromodynamics lattice", "medieval falconry techniques", "stock market crash causes",
                "best sourdough hydration", "chess opening theory", "volcano eruption forecast",
                "jazz saxophone improvisation", "arctic sea ice decline"]
FILLER = ["markets", "chess", "jazz", "ice", "bread", "birds", "lattice", "volcano"]


def build_kb(path) -> KnowledgeBase:
    kb = KnowledgeBase.open(path)
    kb.upsert([Document(k, t, {"title": k.title()}) for k, t in TOPICS.items()]
              + [Document(f"filler{i}", f"common filler words about {w} number {i}") for i, w in enumerate(FILLER)])
    kb.commit()
    return kb


def fit_estimator(kb: KnowledgeBase) -> ConfidenceEstimator:
    """Fitted on BM25 hits: the answerable questions succeed, the others cannot."""
    retriever = kb.bm25_retriever()
    lists = [retriever.retrieve(q, k=10) for q in ANSWERABLE + UNANSWERABLE]
    return ConfidenceEstimator(threshold=0.5).fit(lists, [1] * len(ANSWERABLE) + [0] * len(UNANSWERABLE))
