"""ScoreBlend: reorders hits by the relative-score fusion of scores they carry."""

import pytest

from rag_plugins import Chunk, Hit
from rag_plugins.errors import InvalidInputError
from rag_plugins.rerank import RerankedRetriever, ScoreBlend
from rag_plugins.retrievers.fusion import relative_score_fusion


def hit(cid: str, **scores: float) -> Hit:
    return Hit(Chunk(cid, cid.split("#")[0], cid, 0), scores.get("rerank", 0.0), scores,
               {s: 1 for s in scores}, tuple(scores))


HITS = [hit("a#0", rerank=9.0, bm25=1.0, dense=0.2), hit("b#0", rerank=1.0, bm25=8.0, dense=0.9),
        hit("c#0", rerank=5.0, bm25=6.0), hit("d#0", rerank=0.0, dense=0.1)]


def test_order_is_the_relative_score_fusion_of_the_carried_scores():
    weights = {"rerank": 0.5, "bm25": 0.25, "dense": 0.25}
    out = ScoreBlend(weights).rerank("q", HITS)
    lists = {s: [(h.chunk.id, h.scores[s]) for h in HITS if s in h.scores] for s in weights}
    expected = relative_score_fusion(lists, weights)
    assert [h.chunk.id for h in out] == sorted(expected, key=lambda c: -expected[c])
    assert [h.scores["blend"] for h in out] == sorted(expected.values(), reverse=True)
    assert out[0].scores["bm25"] == HITS[[h.chunk.id for h in HITS].index(out[0].chunk.id)].scores["bm25"]
    assert [h.ranks["blend"] for h in out] == [1, 2, 3, 4]
    assert ScoreBlend({"rerank": 1.0}).rerank("q", HITS, top_n=2)[0].chunk.id == "a#0"
    assert HITS[0].scores == {"rerank": 9.0, "bm25": 1.0, "dense": 0.2}   # input untouched


def test_bad_weights_and_unknown_sources_raise():
    with pytest.raises(InvalidInputError, match="needs weights"):
        ScoreBlend({})
    with pytest.raises(InvalidInputError, match="> 0"):
        ScoreBlend({"rerank": 0.0})
    with pytest.raises(InvalidInputError, match="no hit carries"):
        ScoreBlend({"colbert": 1.0}).rerank("q", HITS)


def test_composes_after_another_retriever(tmp_path):
    from rag_plugins import Document, KnowledgeBase

    kb = KnowledgeBase.open(tmp_path, show_progress=False)
    kb.upsert([Document("x", "solar power panels"), Document("y", "solar wind")])
    kb.commit()
    blended = RerankedRetriever(kb.bm25_retriever(), ScoreBlend({"bm25": 1.0}), depth=10)
    assert [h.chunk.id for h in blended.retrieve("solar panels", k=2)] == ["x#0", "y#0"]
