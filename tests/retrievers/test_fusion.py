import math

import numpy as np
import pytest

from rag_plugins import HybridRetriever, KnowledgeBase
from rag_plugins.errors import InvalidInputError
from rag_plugins.retrievers.fusion import (
    FUSION_METHODS,
    convex_combination,
    distribution_based_fusion,
    reciprocal_rank_fusion,
    relative_score_fusion,
)

A = [("x", 10.0), ("y", 5.0), ("z", 0.0)]
B = [("z", 0.9), ("y", 0.5)]


def test_rrf_honours_weights():
    even = reciprocal_rank_fusion({"a": A, "b": B}, {"a": 1, "b": 1}, k=60)
    assert even["y"] == pytest.approx(1 / 62 + 1 / 62)
    heavy_b = reciprocal_rank_fusion({"a": A, "b": B}, {"a": 1, "b": 5}, k=60)
    assert max(heavy_b, key=heavy_b.get) == "z"
    only_a = reciprocal_rank_fusion({"a": A, "b": B}, {"a": 1, "b": 0}, k=60)
    assert sorted(only_a, key=only_a.get, reverse=True) == ["x", "y", "z"]


def test_relative_score_is_min_max_then_weighted():
    fused = relative_score_fusion({"a": A, "b": B}, {"a": 1, "b": 2})
    assert fused["x"] == pytest.approx(1.0)
    assert fused["y"] == pytest.approx(0.5 + 2 * 0.0)
    assert fused["z"] == pytest.approx(0.0 + 2 * 1.0)


def test_zscore_treats_missing_as_the_lowest_z():
    fused = distribution_based_fusion({"a": A, "b": B}, {"a": 1, "b": 1})
    za = {"x": 1.2247448713915887, "y": 0.0, "z": -1.2247448713915887}
    assert fused["x"] == pytest.approx(za["x"] + -1.0)
    assert fused["z"] == pytest.approx(za["z"] + 1.0)


def test_convex_uses_theoretical_floors_and_normalised_weights():
    fused = convex_combination({"a": A, "b": B}, {"a": 3, "b": 1}, floors={"a": 0.0, "b": -1.0})
    assert fused["z"] == pytest.approx(0.75 * 0.0 + 0.25 * 1.0)
    assert fused["y"] == pytest.approx(0.75 * 0.5 + 0.25 * (1.5 / 1.9))


@pytest.fixture
def kb(tmp_path, embedder, corpus):
    base = KnowledgeBase.open(tmp_path / "kb", embedder=embedder)
    base.upsert(corpus)
    base.commit()
    return base


@pytest.mark.parametrize("method", ["rrf", "relative_score", "zscore", "convex"])
def test_fused_hits_keep_each_sources_score_and_rank(kb, method):
    hybrid = kb.hybrid_retriever(method=method)
    bm25 = {h.chunk.id: (h.score, r) for r, h in enumerate(kb.bm25_retriever().retrieve("dog barks", k=6), 1)}
    dense = {h.chunk.id: (h.score, r) for r, h in enumerate(kb.dense_retriever().retrieve("dog barks", k=6), 1)}
    hits = hybrid.retrieve("dog barks", k=3)
    assert hits[0].document_id == "dogs" and len(hits) == 3
    for rank, hit in enumerate(hits, 1):
        assert hit.ranks["hybrid"] == rank and hit.scores["hybrid"] == hit.score
        for source, table in (("bm25", bm25), ("dense", dense)):
            if source in hit.provenance:
                assert (hit.scores[source], hit.ranks[source]) == pytest.approx(table[hit.chunk.id])
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_weights_change_the_ranking(kb):
    query = "feline house pets"  # dense finds cats; BM25 matches 'pets' weakly
    lexical = kb.hybrid_retriever(weights={"bm25": 1.0, "dense": 0.0}).retrieve(query, k=6)
    assert [h.chunk.id for h in lexical] == [h.chunk.id for h in kb.bm25_retriever().retrieve(query, k=6) if h.score > 0]
    semantic = kb.hybrid_retriever(weights={"bm25": 0.0, "dense": 1.0}).retrieve(query, k=6)
    assert [h.chunk.id for h in semantic] == [h.chunk.id for h in kb.dense_retriever().retrieve(query, k=6)]


def test_zero_score_bm25_hits_earn_no_rank_credit(kb):
    hits = kb.hybrid_retriever().retrieve("volcano eruption", k=6)  # no BM25 term matches
    assert all("bm25" not in h.provenance for h in hits)


def test_invalid_hybrid_configuration(kb):
    with pytest.raises(InvalidInputError, match="fusion method"):
        kb.hybrid_retriever(method="borda")
    with pytest.raises(InvalidInputError, match="unknown retrievers"):
        kb.hybrid_retriever(weights={"bm52": 1.0})
    with pytest.raises(InvalidInputError, match=">= 0"):
        kb.hybrid_retriever(weights={"bm25": -1.0})
    with pytest.raises(InvalidInputError, match="distinct name"):
        HybridRetriever([kb.bm25_retriever(), kb.bm25_retriever()])


def test_batch_matches_single(kb):
    hybrid = kb.hybrid_retriever()
    queries = ["capital of France", "similarity search library", "loyal companion"]
    batch = hybrid.batch_retrieve(queries, k=3)
    single = [hybrid.retrieve(q, k=3) for q in queries]
    assert [[h.chunk.id for h in hits] for hits in batch] == [[h.chunk.id for h in hits] for hits in single]


# issue 15.8: no input makes a fused score NaN --------------------------------------------
NASTY = {
    "inf": [("x", math.inf), ("y", 1.0), ("z", -math.inf)],
    "huge": [("x", 1.7e308), ("y", 0.0), ("z", -1.7e308)],  # max - min overflows to inf
    "nan": [("x", 1.0), ("y", math.nan), ("z", 0.5)],
    "equal": [("x", 2.0), ("y", 2.0), ("z", 2.0)],
    "single": [("x", math.inf)],
    "all_inf": [("x", math.inf), ("y", math.inf)],
    "tiny": [("x", 5e-324), ("y", 0.0)],
}


@pytest.mark.parametrize("method", sorted(FUSION_METHODS))
@pytest.mark.parametrize("case", sorted(NASTY))
def test_fusion_never_returns_nan(method, case):
    lists = {"a": NASTY[case], "b": B}
    fused = FUSION_METHODS[method](lists, {"a": 1.0, "b": 1.0})
    assert set(fused) == {key for ranked in lists.values() for key, _ in ranked}
    assert all(math.isfinite(v) for v in fused.values()), fused


@pytest.mark.parametrize("method", ["relative_score", "zscore", "convex"])
def test_infinite_and_huge_scores_keep_their_order(method):
    ranked = [("w", math.inf), ("x", 1.7e308), ("y", -1.7e308), ("z", -math.inf)]
    fused = FUSION_METHODS[method]({"a": ranked}, {"a": 1.0})
    assert sorted(fused, key=fused.get, reverse=True) == ["w", "x", "y", "z"]


def test_convex_ignores_a_non_finite_floor_and_clips_below_a_finite_one():
    assert convex_combination({"a": A}, {"a": 1.0}, floors={"a": -math.inf}) == relative_score_fusion({"a": A}, {"a": 1.0})
    fused = convex_combination({"a": [("x", 1.0), ("y", -math.inf)]}, {"a": 1.0}, floors={"a": -1.0})
    assert fused == {"x": 1.0, "y": 0.0}


def test_relative_score_normalises_a_list_that_ran_out_of_matches_from_its_floor(kb):
    """BM25 finds two of the six documents for this query: its weaker match is still a match
    (min-max over two hits would make it worth nothing, below a dense near-miss)."""
    bm25 = kb.bm25_retriever().retrieve("capital cities and dog walks", k=50)
    assert 1 < len(bm25) < 50
    hits = kb.hybrid_retriever(method="relative_score").retrieve("capital cities and dog walks", k=6)
    weakest = bm25[-1].chunk.id
    fused = {h.chunk.id: h.scores["hybrid"] for h in hits}
    dense = {h.chunk.id: h.scores.get("dense", 0.0) for h in hits}
    top_dense = max(dense.values())
    assert fused[weakest] == pytest.approx(bm25[-1].score / bm25[0].score + (dense[weakest] - min(dense.values()))
                                           / (top_dense - min(dense.values())))
    full = relative_score_fusion({"bm25": [(h.chunk.id, h.score) for h in bm25]}, {"bm25": 1.0})
    assert full[weakest] == 0.0  # what plain min-max would have given it


def test_zscore_standardises_a_list_that_ran_out_of_matches_over_the_pool_with_its_floor(kb):
    """The default fusion: BM25's few matches are standardised over every candidate, the
    unmatched at BM25's 0, so all of them stand above the unmatched (standardised among
    themselves, the weakest would be below every chunk BM25 did not match)."""
    query = "capital cities and dog walks"
    bm25 = kb.bm25_retriever().retrieve(query, k=50)
    assert 1 < len(bm25) < 6
    hybrid = kb.hybrid_retriever()
    assert (hybrid.method, hybrid.weights) == ("zscore", {"bm25": 2.0, "dense": 1.0})
    hits = hybrid.retrieve(query, k=6)
    dense = {h.chunk.id: h.scores["dense"] for h in hits}
    pool = np.array([h.scores.get("bm25", 0.0) for h in hits])
    bm25_z = (pool - pool.mean()) / pool.std()
    dense_values = np.array(list(dense.values()))
    for hit, z in zip(hits, bm25_z):
        expected = 2.0 * z + (dense[hit.chunk.id] - dense_values.mean()) / dense_values.std()
        assert hit.scores["hybrid"] == pytest.approx(expected)
    weakest = bm25[-1].chunk.id
    unmatched = [h for h in hits if "bm25" not in h.scores]
    assert len(hits) == 6 and len(unmatched) == 6 - len(bm25)
    assert min(z for h, z in zip(hits, bm25_z) if "bm25" in h.scores) > max(
        z for h, z in zip(hits, bm25_z) if "bm25" not in h.scores)
    own = distribution_based_fusion({"bm25": [(h.chunk.id, h.score) for h in bm25]}, {"bm25": 1.0})
    assert own[weakest] < 0  # what standardising the matches alone gives: below BM25's average match
