"""k distinct documents instead of k chunks.

A top-10 of chunks can hold several chunks of one document (SciFact's default chunks: 7.6
distinct documents in a top 10 on average). :class:`DistinctDocuments` wraps any retriever
and returns each document's best-ranked chunk, asking the retriever for deeper lists until
it has ``k`` documents or the retriever runs out.
"""

from __future__ import annotations

from typing import Any

from rag_plugins.errors import InvalidInputError
from rag_plugins.protocols import Filters
from rag_plugins.retrievers.base import BaseRetriever
from rag_plugins.types import Hit

MAX_DEPTH = 1000
"""The most chunks one query asks the wrapped retriever for."""


class DistinctDocuments(BaseRetriever):
    """The best chunk of each of up to ``k`` documents, in the wrapped retriever's order.

    ``depth`` is how many chunks per wanted document the first request asks for (3 by
    default); when that yields fewer than ``k`` documents and the retriever returned all it
    was asked for, the request doubles, up to :data:`MAX_DEPTH` chunks.

    >>> import tempfile
    >>> from rag_plugins import Document, KnowledgeBase
    >>> kb = KnowledgeBase.open(tempfile.mkdtemp(), chunk_size=8)
    >>> _ = kb.upsert([Document("long", "cats purr. " * 20), Document("short", "cats nap.")]); _ = kb.commit()
    >>> [h.document_id for h in kb.bm25_retriever().retrieve("cats", k=2)]
    ['long', 'long']
    >>> [h.document_id for h in DistinctDocuments(kb.bm25_retriever()).retrieve("cats", k=2)]
    ['long', 'short']
    """

    def __init__(self, retriever: Any, depth: int = 3):
        if not hasattr(retriever, "retrieve"):
            raise InvalidInputError(f"DistinctDocuments wraps a retriever, got {type(retriever).__name__}")
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise InvalidInputError(f"depth must be a positive integer, got {depth!r}")
        self.retriever = retriever
        self.depth = depth
        self.name = getattr(retriever, "name", "retriever")

    def _retrieve(self, query: str, k: int, filters: Filters | None) -> list[Hit]:
        ask = min(MAX_DEPTH, k * self.depth)
        while True:
            hits = self.retriever.retrieve(query, k=ask, filters=filters)
            best = _best_per_document(hits, k)
            if len(best) >= k or len(hits) < ask or ask >= MAX_DEPTH:
                return best
            ask = min(MAX_DEPTH, ask * 2)

    def _batch_retrieve(self, queries: list[str], k: int, filters: Filters | None) -> list[list[Hit]]:
        ask = min(MAX_DEPTH, k * self.depth)
        batch = getattr(self.retriever, "batch_retrieve", None)
        found = batch(queries, k=ask, filters=filters) if batch else [self.retriever.retrieve(q, k=ask, filters=filters)
                                                                        for q in queries]
        out = []
        for query, hits in zip(queries, found):
            best = _best_per_document(hits, k)
            out.append(best if len(best) >= k or len(hits) < ask or ask >= MAX_DEPTH else self._retrieve(query, k, filters))
        return out


def _best_per_document(hits: list[Hit], k: int) -> list[Hit]:
    seen: set[str] = set()
    out = []
    for hit in hits:
        if hit.document_id not in seen:
            seen.add(hit.document_id)
            out.append(hit)
            if len(out) == k:
                break
    return out
