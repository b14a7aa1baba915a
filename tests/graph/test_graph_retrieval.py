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


def test_keep_first_puts_the_first_stages_best_hits_above_the_graphs(kb):
    first = kb.bm25_retriever()
    query = "fruit of the 1945 film"
    leading = [h.chunk.id for h in first.retrieve(query, k=2)]
    plain = GraphExpandedRetriever(first, kb.graph_retriever("bfs"), expand_top=1).retrieve(query, k=4)
    kept = GraphExpandedRetriever(first, kb.graph_retriever("bfs"), expand_top=1, keep_first=2).retrieve(query, k=4)
    assert leading == ["film#0", "pear#0"]
    assert [h.chunk.id for h in plain[:2]] != leading  # the graph's hop outranks the second hit
    assert [h.chunk.id for h in kept[:2]] == leading
    assert {h.chunk.id for h in kept} <= {h.chunk.id for h in plain} | set(leading)
    assert all("graph+hybrid" in h.scores for h in kept)  # the fused hits, not the first stage's
    with pytest.raises(InvalidInputError, match="keep_first"):
        GraphExpandedRetriever(first, kb.graph_retriever(), keep_first=0)


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


def hub_kb(path):
    """"Kiss and Tell" links to one specific entity and to a generic one that eleven other
    films share: the generic entity is the hub."""
    triples = {"film": [("Kiss and Tell", "stars", "Shirley Temple"), ("Kiss and Tell", "country", "American")],
               "st": [("Shirley Temple", "held position", "Chief of Protocol"), ("Shirley Temple", "nationality", "American")]}
    docs = [Document("film", "Kiss and Tell is a 1945 film.", {"title": "Kiss and Tell (1945 film)"}),
            Document("st", "Shirley Temple was a diplomat.", {"title": "Shirley Temple"})]
    for i in range(11):
        triples[f"f{i}"] = [(f"Film {i}", "country", "American")]
        docs.append(Document(f"f{i}", f"Film {i} is a film.", {"title": f"Film {i}"}))
    base = KnowledgeBase.open(path, graph=TripleExtractor(triples), show_progress=False)
    base.upsert(docs)
    base.commit()
    return base


def test_hub_penalty_keeps_the_walk_off_generic_entities(tmp_path):
    kb = hub_kb(tmp_path)

    def scores(penalty):
        hits = kb.graph_retriever("ppr", hub_penalty=penalty).retrieve("Kiss and Tell", k=20)
        return {h.document_id: h.score for h in hits}

    plain, discounted = scores(0.0), scores(1.0)
    filler = [f"f{i}" for i in range(11)]
    assert sum(discounted.get(f, 0.0) for f in filler) < 0.5 * sum(plain.get(f, 0.0) for f in filler)
    assert discounted["st"] > plain["st"]
    assert list(discounted)[:2] == ["film", "st"]
    with pytest.raises(InvalidInputError, match="hub_penalty"):
        kb.graph_retriever("ppr", hub_penalty=-1)


def test_evidence_paths_avoid_the_hub_when_a_specific_route_exists(tmp_path):
    kb = hub_kb(tmp_path)
    hit = next(h for h in kb.graph_retriever("ppr").retrieve("Kiss and Tell", k=5) if h.document_id == "st")
    assert hit.evidence["paths"] == ["Kiss and Tell (1945 film) → Shirley Temple → [Shirley Temple]"]


def test_a_path_takes_three_specific_steps_over_a_shortcut_through_a_hub():
    # 0 - hub(1) - target(2), the hub also joined to 20 leaves; and 0 - 3 - 4 - target
    n = 25
    a = np.zeros((n, n))
    for u, v in [(0, 1), (1, 2), (0, 3), (3, 4), (4, 2)] + [(1, leaf) for leaf in range(5, 25)]:
        a[u, v] = a[v, u] = 1.0
    adjacency = sp.csr_matrix(a)
    assert shortest_path(adjacency, 0, 2) == [0, 1, 2]               # fewest hops: through the hub
    assert paths_to(adjacency, [0], [2], np.ones(n)) == {2: [0, 3, 4, 2]}   # the walk's likeliest route
    assert paths_to(adjacency, [0], [2], np.ones(n), max_hops=2) == {}
