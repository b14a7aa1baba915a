"""Traversal on small hand-built graphs whose answers are known (user triples make the
graph exactly what the test says)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from rag_plugins import Document, KnowledgeBase
from rag_plugins.errors import InvalidInputError
from rag_plugins.graph import GraphExpandedRetriever, TripleExtractor
from rag_plugins.graph.traversal import k_hop, paths_to, personalized_pagerank, shortest_path
from rag_plugins.retrievers.hybrid import HybridRetriever

TRIPLES = {
    "film": [("Kiss and Tell", "stars", "Shirley Temple")],
    "st": [("Shirley Temple", "held position", "Chief of Protocol")],
    "cp": [("Chief of Protocol", "is part of", "State Department")],
    "pear": [("Pear", "is a", "Fruit")],
}
DOCS = [
    Document("film", "Kiss and Tell is a 1945 film.", {"title": "Kiss and Tell (1945 film)", "access": "public"}),
    Document("st", "Shirley Temple was a diplomat.", {"title": "Shirley Temple", "access": "private"}),
    Document("cp", "The Chief of Protocol advises on protocol.", {"title": "Chief of Protocol", "access": "public"}),
    Document("pear", "Pears are fruit.", {"title": "Pear", "access": "public"}),
]


@pytest.fixture()
def kb(tmp_path):
    base = KnowledgeBase.open(tmp_path, graph=TripleExtractor(TRIPLES), show_progress=False)
    base.upsert(DOCS)
    base.commit()
    return base


def line(n: int) -> sp.csr_matrix:
    a = np.zeros((n, n))
    for i in range(n - 1):
        a[i, i + 1] = a[i + 1, i] = 1.0
    return sp.csr_matrix(a)


def test_pagerank_and_k_hop_decrease_with_distance():
    ppr = personalized_pagerank(line(5), {0: 1.0}, damping=0.6)
    assert list(np.argsort(-ppr)) == [0, 1, 2, 3, 4]
    assert ppr.sum() == pytest.approx(1.0, abs=1e-6)
    two = k_hop(line(5), {0: 1.0}, hops=2, decay=0.5)
    assert two[3] == 0 and two[4] == 0 and two[1] > two[2] > 0


def test_paths_follow_edges_and_respect_the_hop_limit():
    assert shortest_path(line(5), 0, 4) == [0, 1, 2, 3, 4]
    assert shortest_path(line(5), 0, 4, max_hops=2) is None
    found = paths_to(line(5), [0], [3], np.ones(5))
    assert found == {3: [0, 1, 2, 3]}


def test_bfs_ranks_one_hop_before_two_hops(kb):
    hits = kb.graph_retriever("bfs", hops=2).retrieve("Kiss and Tell", k=5)
    assert [h.document_id for h in hits] == ["film", "st"]     # cp is 3 hops away; pear unconnected
    assert hits[1].evidence["paths"] == ["Kiss and Tell (1945 film) → Shirley Temple → [Shirley Temple]"]
    assert hits[1].evidence["seeds"][0]["entity"] == "Kiss and Tell (1945 film)"
    assert hits[1].evidence["seeds"][0]["how"] == "alias"


def test_pagerank_reaches_further_with_more_damping(kb):
    near = kb.graph_retriever("ppr", damping=0.3).retrieve("Kiss and Tell", k=5)
    assert [h.document_id for h in near][:2] == ["film", "st"]
    assert "pear" not in [h.document_id for h in near]


def test_paths_mode_answers_how_two_entities_are_related(kb):
    hits = kb.graph_retriever("paths").retrieve("How is Kiss and Tell related to the State Department?", k=4)
    assert {h.document_id for h in hits[:3]} == {"film", "st", "cp"}
    path = "Kiss and Tell (1945 film) → Shirley Temple → Chief of Protocol → State Department"
    assert all(h.evidence["paths"] == [path] for h in hits[:3])


def test_filters_hide_chunks_and_cut_paths_through_them(kb):
    hits = kb.graph_retriever("bfs", hops=4).retrieve("Kiss and Tell", k=5, filters={"access": "public"})
    assert "st" not in [h.document_id for h in hits]
    # cp is reachable only through the private chunk's relation (Shirley Temple → Chief of Protocol)
    assert [h.document_id for h in hits] == ["film"]
    related = kb.graph_retriever("paths").retrieve("Kiss and Tell and the State Department", k=5,
                                                   filters={"access": "public"})
    assert "st" not in [h.document_id for h in related]
    assert all("Shirley Temple]" not in p for h in related for p in h.evidence["paths"])


def test_fuzzy_linking_and_no_seed(kb):
    seeds = kb.graph_retriever().seeds("What did Shirly Temple do?")
    assert [(s.name, s.how) for s in seeds] == [("Shirley Temple", "fuzzy")]
    assert kb.graph_retriever().retrieve("nothing named here", k=3) == []


def test_graph_fuses_with_other_retrievers_and_keeps_evidence(kb):
    fused = HybridRetriever([kb.bm25_retriever(), kb.graph_retriever()], method="rrf")
    hits = fused.retrieve("Kiss and Tell film", k=3)
    assert hits[0].document_id == "film"
    with_graph = [h for h in hits if "graph" in h.provenance]
    assert with_graph and all(h.evidence["paths"] for h in with_graph)
    flat = with_graph[0].flat_metadata()
    assert flat["evidence"]["seeds"]
    expanded = GraphExpandedRetriever(kb.bm25_retriever(), kb.graph_retriever("bfs"))
    assert "st" in [h.document_id for h in expanded.retrieve("a 1945 film", k=3)]
    assert isinstance(kb.retriever("graph+hybrid"), GraphExpandedRetriever)


def test_bad_arguments_raise_typed_errors(kb, tmp_path):
    with pytest.raises(InvalidInputError, match="unknown graph traversal"):
        kb.graph_retriever("dfs")
    with pytest.raises(InvalidInputError, match="damping"):
        kb.graph_retriever(damping=1.5)
    plain = KnowledgeBase.open(tmp_path / "plain", show_progress=False)
    plain.upsert([Document("a", "text")])
    plain.commit()
    with pytest.raises(InvalidInputError, match="no knowledge graph"):
        plain.graph_retriever().retrieve("text")
