"""Reordering hits by a weighted blend of the scores they already carry."""

from __future__ import annotations

from typing import Mapping, Sequence

from rag_plugins._validation import check_weight
from rag_plugins.errors import InvalidInputError
from rag_plugins.rerank.hits import check_hits, with_score
from rag_plugins.retrievers.fusion import relative_score_fusion
from rag_plugins.types import Hit


class ScoreBlend:
    """A reranker that mixes scores already on the hits, each min-max normalised over the
    candidates (relative-score fusion): e.g. a cross-encoder's with BM25's and the dense
    retriever's. A hit missing a source's score counts 0 for it; ties go by chunk id.

    A cross-encoder fine-tuned on little data is often right exactly where the first stage
    is wrong and wrong where it is right; blending keeps both (benchmarks/README.md: 0.782
    nDCG@10 on SciFact test against 0.718 for the reranker alone and 0.728 for hybrid).

    >>> from rag_plugins import Chunk, Hit
    >>> a = Hit(Chunk("a#0", "a", "x", 0), 5.0, {"rerank": 5.0, "bm25": 1.0}, {"rerank": 1, "bm25": 2})
    >>> b = Hit(Chunk("b#0", "b", "y", 0), 4.0, {"rerank": 4.0, "bm25": 9.0}, {"rerank": 2, "bm25": 1})
    >>> [h.chunk.id for h in ScoreBlend({"rerank": 0.4, "bm25": 0.6}).rerank("q", [a, b])]
    ['b#0', 'a#0']

    Compose it after a cross-encoder::

        reranked = RerankedRetriever(kb.hybrid_retriever(), CrossEncoderReranker(model), depth=100)
        blended = RerankedRetriever(reranked, ScoreBlend({"rerank": 0.5, "bm25": 0.25, "dense": 0.25}), depth=100)
    """

    def __init__(self, weights: Mapping[str, float], name: str = "blend"):
        if not weights:
            raise InvalidInputError("ScoreBlend needs weights, e.g. {'rerank': 0.5, 'bm25': 0.25, 'dense': 0.25}")
        self.weights = {source: check_weight(w, f"weight of {source!r}") for source, w in weights.items()}
        if not any(self.weights.values()):
            raise InvalidInputError("at least one blend weight must be > 0")
        if name in self.weights:
            raise InvalidInputError(f"the blend's name {name!r} clashes with a source it blends")
        self.name = name

    def rerank(self, query: str, hits: Sequence[Hit], top_n: int | None = None) -> list[Hit]:
        hits = check_hits(hits)
        carried = {source for h in hits for source in h.scores}
        missing = [s for s in self.weights if s not in carried]
        if hits and len(missing) == len(self.weights):
            raise InvalidInputError(
                f"no hit carries a score from {sorted(self.weights)}; the hits have {sorted(carried)}"
            )
        lists = {s: [(h.chunk.id, h.scores[s]) for h in hits if s in h.scores] for s in self.weights}
        fused = relative_score_fusion(lists, self.weights)
        order = sorted(range(len(hits)), key=lambda i: (-fused.get(hits[i].chunk.id, 0.0), hits[i].chunk.id))
        if top_n is not None:
            order = order[:top_n]
        return [with_score(hits[i], self.name, fused.get(hits[i].chunk.id, 0.0), rank)
                for rank, i in enumerate(order, start=1)]
