"""A retriever followed by a reranker is itself a retriever."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rag_plugins._validation import check_k
from rag_plugins.errors import InvalidInputError
from rag_plugins.protocols import Filters, Reranker, Retriever
from rag_plugins.rerank.adaptive import AdaptiveDepth
from rag_plugins.retrievers.catalog import CATALOG, RetrieverKind, register_retriever
from rag_plugins.retrievers.base import BaseRetriever
from rag_plugins.types import Hit


class RerankedRetriever(BaseRetriever):
    """Fetch ``depth`` candidates (100 by default) from ``retriever``, rerank them, return the best ``k``.

    Because it is a retriever, it drops into anything that takes one: a hybrid, the
    framework adapters, another ``RerankedRetriever`` (e.g. cross-encoder, then MMR).
    Batches go through the reranker's ``batch_rerank`` when it has one, so the pairs of
    all queries are scored in one length-sorted pass. With ``adaptive`` (an
    :class:`AdaptiveDepth`), each query's first-stage confidence sets how many candidates
    are reranked (none, a few, or all ``depth``); the rest follow in first-stage order, and
    every hit's ``evidence["adaptive_rerank"]`` says the depth and the confidence.

    >>> from rag_plugins import KnowledgeBase
    >>> from rag_plugins.rerank import CrossEncoderReranker
    >>> kb = KnowledgeBase.open("my-kb")  # doctest: +SKIP
    >>> reranked = RerankedRetriever(kb.hybrid_retriever(), CrossEncoderReranker(), depth=100)  # doctest: +SKIP
    >>> reranked.retrieve("does vitamin D prevent fractures?", k=5)[0].scores  # doctest: +SKIP
    {'bm25': 14.2, 'dense': 0.61, 'hybrid': 1.73, 'rerank': 7.9}
    """

    def __init__(self, retriever: Retriever, reranker: Reranker, depth: int | None = None, name: str | None = None,
                 adaptive: AdaptiveDepth | None = None):
        if adaptive is not None and not isinstance(adaptive, AdaptiveDepth):
            raise InvalidInputError(f"adaptive must be an AdaptiveDepth, got {type(adaptive).__name__}")
        if depth is not None and adaptive is not None and depth < adaptive.max_depth:
            raise InvalidInputError(f"depth {depth} is below the adaptive policy's deepest tier "
                                    f"({adaptive.max_depth}); leave depth out, the policy sets it")
        self.retriever = retriever
        self.reranker = reranker
        self.adaptive = adaptive
        if depth is None:
            depth = 100 if adaptive is None else max(adaptive.max_depth, 1)
        self.depth = check_k(depth, "depth")
        self.name = name or f"{retriever.name}+{reranker.name}"

    def _retrieve(self, query: str, k: int, filters: Filters | None) -> list[Hit]:
        return self._reranked([query], [self.retriever.retrieve(query, k=max(k, self.depth), filters=filters)], k)[0]

    def _batch_retrieve(self, queries: list[str], k: int, filters: Filters | None) -> list[list[Hit]]:
        return self._reranked(queries, self.retriever.batch_retrieve(queries, k=max(k, self.depth), filters=filters), k)

    def _reranked(self, queries: list[str], candidates: list[list[Hit]], k: int) -> list[list[Hit]]:
        if self.adaptive is None:
            return self._rerank(queries, candidates, k)
        confidences = [self.adaptive.confidence(c) for c in candidates]
        depths = [min(self.adaptive.depth_at(p), len(c)) for p, c in zip(confidences, candidates)]
        reading = [i for i, d in enumerate(depths) if d]
        reranked = dict(zip(reading, self._rerank([queries[i] for i in reading],
                                                  [candidates[i][: depths[i]] for i in reading], None)))
        out = []
        for i, found in enumerate(candidates):
            record = {"depth": depths[i], "first_stage_confidence": round(confidences[i], 4)}
            hits = (reranked.get(i, []) + found[depths[i]:])[:k]
            out.append([replace(h, evidence={**h.evidence, "adaptive_rerank": record}) for h in hits])
        return out

    def _rerank(self, queries: list[str], candidates: list[list[Hit]], top_n: int | None) -> list[list[Hit]]:
        if not queries:
            return []
        batch = getattr(self.reranker, "batch_rerank", None)
        if batch is not None:
            return batch(queries, candidates, top_n=top_n)
        return [self.reranker.rerank(q, c, top_n=top_n) for q, c in zip(queries, candidates)]


def _reranked(kb: Any, reranker: Reranker, base: "str | Retriever" = "hybrid", base_options: Any = None,
              depth: int | None = None, name: str | None = None, adaptive: AdaptiveDepth | None = None
              ) -> RerankedRetriever:
    return RerankedRetriever(CATALOG.build_base(kb, base, base_options), reranker, depth=depth, name=name,
                             adaptive=adaptive)


register_retriever(RetrieverKind(
    "reranked", "Another retriever's candidates (hybrid by default) reordered by a cross-encoder.",
    _reranked, base=True, options=("reranker", "base", "base_options", "depth", "name", "adaptive"), required=("reranker",)))
