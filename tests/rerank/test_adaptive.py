"""Adaptive reranking: the first stage's calibrated confidence sets how many candidates the
real (tiny) cross-encoder reads; the rest keep their first-stage order."""

import numpy as np
import pytest

from rag_plugins import Chunk, Hit
from rag_plugins.confidence import ConfidenceEstimator
from rag_plugins.errors import InvalidInputError
from rag_plugins.rerank import AdaptiveDepth, CrossEncoderReranker, RerankedRetriever
from rag_plugins.retrievers.base import BaseRetriever


def ranked(scores, prefix="d"):
    return [Hit(Chunk(f"{prefix}{i}#0", f"{prefix}{i}", f"passage {i} about topic {i % 3}", 0), float(s),
                {"hybrid": float(s)}, {"hybrid": i + 1}, ("hybrid",)) for i, s in enumerate(scores)]


CLEAR = [5.0] + [0.5 - 0.01 * i for i in range(39)]  # one hit far ahead: the first stage is sure
FLAT = [1.0 - 0.001 * i for i in range(40)]          # nothing stands out


class FirstStage(BaseRetriever):
    name = "hybrid"

    def __init__(self, by_query):
        self.by_query = by_query

    def _retrieve(self, query, k, filters):
        return self.by_query[query][:k]


class Counting:
    """The real cross-encoder, counting the pairs it reads."""

    name = "rerank"

    def __init__(self, reranker):
        self.reranker, self.pairs, self.calls = reranker, 0, 0

    def batch_rerank(self, queries, hits, top_n=None):
        self.calls += 1
        self.pairs += sum(len(h) for h in hits)
        return self.reranker.batch_rerank(queries, hits, top_n)

    def rerank(self, query, hits, top_n=None):
        return self.batch_rerank([query], [hits], top_n)[0]


@pytest.fixture(scope="module")
def estimator():
    rng = np.random.default_rng(0)
    sure = [ranked([5.0 + rng.normal(0, 0.1)] + list(np.sort(rng.uniform(0, 0.6, 9))[::-1])) for _ in range(30)]
    flat = [ranked(list(np.sort(rng.uniform(0.8, 1.0, 10))[::-1])) for _ in range(30)]
    return ConfidenceEstimator().fit(sure + flat, [1] * 30 + [0] * 30)


@pytest.fixture(scope="module")
def cross_encoder(tiny_cross_encoder):
    model = CrossEncoderReranker(tiny_cross_encoder, device="cpu")
    model.warm_up()
    return model


def test_a_sure_first_stage_is_reranked_shallow_and_an_unsure_one_deep(estimator, cross_encoder):
    policy = AdaptiveDepth(estimator, confident_above=0.9, confident_depth=5, unsure_below=0.5, unsure_depth=30,
                           depth=10)
    assert policy.confidence(ranked(CLEAR)) > 0.9 > 0.5 > policy.confidence(ranked(FLAT))
    counting = Counting(cross_encoder)
    retriever = RerankedRetriever(FirstStage({"sure": ranked(CLEAR), "unsure": ranked(FLAT)}), counting,
                                  adaptive=policy)
    assert retriever.depth == 30
    sure = retriever.retrieve("sure", k=10)
    assert counting.pairs == 5
    assert {h.chunk.id for h in sure[:5]} == {f"d{i}#0" for i in range(5)}  # the first five, reordered
    assert [h.chunk.id for h in sure[5:]] == [f"d{i}#0" for i in range(5, 10)]  # the rest in first-stage order
    assert all("rerank" in h.scores for h in sure[:5]) and not any("rerank" in h.scores for h in sure[5:])
    assert sure[0].evidence["adaptive_rerank"]["depth"] == 5
    unsure = retriever.retrieve("unsure", k=10)
    assert counting.pairs == 5 + 30 and all("rerank" in h.scores for h in unsure)
    assert unsure[0].evidence["adaptive_rerank"] == {"depth": 30, "first_stage_confidence": pytest.approx(
        policy.confidence(ranked(FLAT)), abs=1e-4)}


def test_depth_zero_skips_the_cross_encoder_and_a_batch_matches_single_queries(estimator, cross_encoder):
    policy = AdaptiveDepth(estimator, confident_above=0.9, confident_depth=0, unsure_below=0.5, unsure_depth=20,
                           depth=10)
    counting = Counting(cross_encoder)
    first = FirstStage({"sure": ranked(CLEAR), "unsure": ranked(FLAT, "e")})
    retriever = RerankedRetriever(first, counting, adaptive=policy)
    sure = retriever.retrieve("sure", k=10)
    assert counting.calls == 0 and [h.chunk.id for h in sure] == [h.chunk.id for h in ranked(CLEAR)[:10]]
    batch = retriever.batch_retrieve(["sure", "unsure", "sure"], k=10)
    assert counting.calls == 1 and counting.pairs == 20  # one pooled pass, only the unsure query's pairs
    for query, got in zip(["sure", "unsure", "sure"], batch):
        single = retriever.retrieve(query, k=10)
        assert [h.chunk.id for h in got] == [h.chunk.id for h in single]


def test_bad_policies_are_refused(estimator, cross_encoder):
    with pytest.raises(InvalidInputError, match="ConfidenceEstimator"):
        AdaptiveDepth(object())
    with pytest.raises(InvalidInputError, match="must not exceed"):
        AdaptiveDepth(estimator, confident_above=0.4, unsure_below=0.6)
    with pytest.raises(InvalidInputError, match="confident_above"):
        AdaptiveDepth(estimator, confident_above=1.5)
    with pytest.raises(InvalidInputError):
        AdaptiveDepth(estimator, depth=-1)
    with pytest.raises(InvalidInputError, match="deepest tier"):
        RerankedRetriever(FirstStage({}), cross_encoder, depth=20, adaptive=AdaptiveDepth(estimator, unsure_depth=50))
    with pytest.raises(InvalidInputError, match="AdaptiveDepth"):
        RerankedRetriever(FirstStage({}), cross_encoder, adaptive={"depth": 5})
