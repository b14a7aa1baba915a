"""The graph a knowledge base keeps: built from extractions, updated incrementally,
saved as JSON, and identical to a rebuild from scratch after any updates."""

from __future__ import annotations

import json

import pytest

from rag_plugins import Document, KnowledgeBase
from rag_plugins.errors import InvalidInputError
from rag_plugins.graph import HeuristicExtractor, TripleExtractor
from rag_plugins.graph.store import GRAPH_FILE

DOCS = [
    Document("film", "Kiss and Tell is a 1945 film. It stars Shirley Temple Black as Corliss Archer.",
             {"title": "Kiss and Tell (1945 film)"}),
    Document("st", "Shirley Temple was an American actress. She served as Chief of Protocol of the United States.",
             {"title": "Shirley Temple"}),
    Document("radio", "Meet Corliss Archer was a radio show on CBS. Janet Waldo voiced Corliss Archer.",
             {"title": "Meet Corliss Archer"}),
    Document("pear", "The pear is a fruit tree of the genus Pyrus.", {"title": "Pear"}),
]


def build(path, docs) -> KnowledgeBase:
    kb = KnowledgeBase.open(path, graph=True, show_progress=False)
    kb.upsert(docs)
    kb.commit()
    return kb


def test_heuristic_graph_links_title_mentions_across_documents(tmp_path):
    kb = build(tmp_path, DOCS)
    g = kb.knowledge_graph.graph
    # "Shirley Temple Black" in the film paragraph is a mention of the entity titled "Shirley Temple"
    assert g.has_edge("c:film#0", "e:shirley temple")
    assert g.edges["c:film#0", "e:shirley temple"]["fragment"] is True
    assert g.nodes["e:kiss and tell"]["name"] == "Kiss and Tell (1945 film)"
    relation = g.edges["e:kiss and tell", "e:corliss archer"]
    assert relation["kind"] == "relation" and set(relation["support"]) == {"film#0"}
    assert g.nodes["c:st#0"]["document"] == "st"


def test_updates_and_deletes_equal_a_rebuild(tmp_path):
    kb = build(tmp_path / "a", DOCS[1:])       # "Shirley Temple" exists before the film mentions her
    kb.upsert([DOCS[0]])
    kb.commit()
    kb.upsert([Document("radio", "Meet Corliss Archer aired on NBC and ABC.", {"title": "Meet Corliss Archer"})])
    kb.delete(["pear"])
    kb.commit()
    kb.delete(["st"])                           # the fragment link from the film paragraph must go
    kb.commit()
    final = [DOCS[0], Document("radio", "Meet Corliss Archer aired on NBC and ABC.", {"title": "Meet Corliss Archer"})]
    fresh = build(tmp_path / "b", final)
    assert kb.knowledge_graph.canonical() == fresh.knowledge_graph.canonical()
    g = kb.knowledge_graph.graph
    assert not g.has_edge("c:film#0", "e:shirley temple") or not g.edges["c:film#0", "e:shirley temple"].get("fragment")
    assert "e:pyrus" not in g and "e:cbs" not in g


def test_graph_is_saved_as_json_and_reloaded(tmp_path):
    kb = build(tmp_path, DOCS)
    before = kb.knowledge_graph.canonical()
    directory = tmp_path / "generations" / f"{kb.generation:06d}"
    data = json.loads((directory / GRAPH_FILE).read_text())
    assert {"nodes", "edges"} <= set(data)
    assert GRAPH_FILE in kb.manifest()["files"]
    kb.close()
    again = KnowledgeBase.open(tmp_path)
    assert isinstance(again.extractor, HeuristicExtractor)
    assert again.knowledge_graph.canonical() == before


def test_user_triples_build_exactly_their_graph(tmp_path):
    triples = TripleExtractor({"a": [("Marie Curie", "won", "Nobel Prize in Physics")],
                               "b": [("Pierre Curie", "married", "Marie Curie")]})
    kb = KnowledgeBase.open(tmp_path, graph=triples, show_progress=False)
    kb.upsert([Document("a", "text a"), Document("b", "text b")])
    kb.commit()
    g = kb.knowledge_graph.graph
    assert sorted(n for n in g if n.startswith("e:")) == ["e:marie curie", "e:nobel prize in physics", "e:pierre curie"]
    assert g.edges["e:pierre curie", "e:marie curie"]["labels"] == {"married": 1}


def test_base_built_by_a_custom_extractor_needs_it_to_change_documents(tmp_path):
    triples = TripleExtractor({"a": [("Xavier", "studied at", "Yale")]})
    kb = KnowledgeBase.open(tmp_path, graph=triples, show_progress=False)
    kb.upsert([Document("a", "text a")])
    kb.commit()
    kb.close()
    kb = KnowledgeBase.open(tmp_path)
    assert kb.graph_retriever().retrieve("Xavier", k=1)[0].document_id == "a"   # still searchable
    kb.upsert([Document("b", "text b")])
    with pytest.raises(InvalidInputError, match="pass that extractor"):
        kb.commit()
    assert kb.generation == 1 and len(kb) == 1
    kb.rollback()
    kb.close()
    with pytest.raises(InvalidInputError, match="extractor"):
        KnowledgeBase.open(tmp_path, graph=HeuristicExtractor())


def test_bad_extractor_output_leaves_the_base_unchanged(tmp_path):
    class Broken:
        name = "broken"

        def config(self):
            return {"name": "broken"}

        def extract(self, chunks):
            return []

    kb = KnowledgeBase.open(tmp_path, graph=Broken(), show_progress=False)
    kb.upsert([Document("a", "text")])
    with pytest.raises(InvalidInputError, match="one Extraction per chunk"):
        kb.commit()
    assert kb.generation == 0 and len(kb) == 0
    with pytest.raises(InvalidInputError, match="graph must be"):
        KnowledgeBase.open(tmp_path / "other", graph="yes")


SYNONYM_DOCS = [
    Document("us", "The United States is a country in North America.", {"title": "United States"}),
    Document("usa", "The nation declared independence in 1776.", {"title": "United States of America"}),
    Document("st", "Shirley Temple was an actress.", {"title": "Shirley Temple"}),
]


def test_synonym_edges_join_close_names_and_follow_updates(tmp_path, embedder):
    kb = KnowledgeBase.open(tmp_path / "a", embedder=embedder, graph=True, show_progress=False)
    kb.upsert(SYNONYM_DOCS)
    kb.commit()
    g = kb.knowledge_graph.graph
    edge = g.edges["e:united states", "e:united states of america"]
    assert edge["kind"] == "synonym" and edge["synonym"] >= 0.9
    assert not g.has_edge("e:united states", "e:shirley temple")
    kb.delete(["usa"])
    kb.commit()
    assert "e:united states of america" not in kb.knowledge_graph.graph
    kb.upsert([SYNONYM_DOCS[1]])
    kb.commit()
    fresh = KnowledgeBase.open(tmp_path / "b", embedder=embedder, graph=True, show_progress=False)
    fresh.upsert(SYNONYM_DOCS)
    fresh.commit()
    assert kb.knowledge_graph.canonical() == fresh.knowledge_graph.canonical()


def test_dense_linking_finds_entities_named_differently(tmp_path, embedder):
    kb = KnowledgeBase.open(tmp_path, embedder=embedder, graph=True, show_progress=False)
    kb.upsert(SYNONYM_DOCS)
    kb.commit()
    seeds = kb.graph_retriever().seeds("Tell me about America")
    assert [(s.name, s.how) for s in seeds] == [("United States", "dense")]
    assert kb.graph_retriever(dense_threshold=0.95).seeds("Tell me about America") == []
