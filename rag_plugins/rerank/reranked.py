"""A retriever followed by a reranker is itself a retriever."""

from __future__ import annotations

from typing import Any

from rag_plugins._validation import check_k
from rag_plugins.protocols import Filters, Reranker, Retriever
from rag_plugins.retrievers.catalog import CATALOG, RetrieverKind, register_retriever
from rag_plugins.retrievers.base import BaseRetriever
from rag_plugins.types import Hit


class RerankedRetriever(BaseRetriever):
    """Fetch ``depth`` candidates from ``retriever``, rerank them, return the best ``k``.

    Because it is a retriever, it drops into anything that takes one: a hybrid, the
    framework adapters, another ``RerankedRetriever`` (e.g. cross-encoder, then MMR).
    Batches go through the reranker's ``batch_rerank`` when it has one, so the pairs of
    all queries are scored in one length-sorted pass.

    >>> from rag_plugins import KnowledgeBase
    >>> from rag_plugins.rerank import CrossEncoderReranker
    >>> kb = KnowledgeBase.open("my-kb")  # doctest: +SKIP
    >>> reranked = RerankedRetriever(kb.hybrid_retriever(), CrossEncoderReranker(), depth=100)  # doctest: +SKIP
    >>> reranked.retrieve("does vitamin D prevent fractures?", k=5)[0].scores  # doctest: +SKIP
    {'bm25': 14.2, 'dense': 0.61, 'hybrid': 1.73, 'rerank': 7.9}
    """

    def __init__(self, retriever: Retriever, reranker: Reranker, depth: int = 100, name: str | None = None):
        self.retriever = retriever
        self.reranker = reranker
        self.depth = check_k(depth, "depth")
        self.name = name or f"{retriever.name}+{reranker.name}"

    def _retrieve(self, query: str, k: int, filters: Filters | None) -> list[Hit]:
        candidates = self.retriever.retrieve(query, k=max(k, self.depth), filters=filters)
        return self.reranker.rerank(query, candidates, top_n=k)

    def _batch_retrieve(self, queries: list[str], k: int, filters: Filters | None) -> list[list[Hit]]:
        candidates = self.retriever.batch_retrieve(queries, k=max(k, self.depth), filters=filters)
        batch = getattr(self.reranker, "batch_rerank", None)
        if batch is not None:
            return batch(queries, candidates, top_n=k)
        return [self.reranker.rerank(q, c, top_n=k) for q, c in zip(queries, candidates)]


def _reranked(kb: Any, reranker: Reranker, base: "str | Retriever" = "hybrid", base_options: Any = None,
              depth: int = 100, name: str | None = None) -> RerankedRetriever:
    return RerankedRetriever(CATALOG.build_base(kb, base, base_options), reranker, depth=depth, name=name)


register_retriever(RetrieverKind(
    "reranked", "Another retriever's candidates (hybrid by default) reordered by a cross-encoder.",
    _reranked, base=True, options=("reranker", "base", "base_options", "depth", "name"), required=("reranker",)))
