"""Dense retrieval: embed the query, search the FAISS index with filters pushed in."""

from __future__ import annotations

from rag_plugins.protocols import Filters, SearchableBase
from rag_plugins.retrievers.base import BaseRetriever
from rag_plugins.types import Hit


class DenseRetriever(BaseRetriever):
    """Nearest chunks by inner product of embeddings (cosine when normalised).

    Batches embed all queries in one call. Filters become a FAISS id selector, so a
    filtered query returns ``min(k, matching chunks)`` hits. The query embedder must be the
    model that built the index, checked by fingerprint.

    >>> kb = KnowledgeBase.open("kb", embedder="sentence-transformers/all-MiniLM-L6-v2")  # doctest: +SKIP
    >>> DenseRetriever(kb).retrieve("how do vaccines work?", k=3)  # doctest: +SKIP
    """

    score_floor = -1.0

    def __init__(self, kb: SearchableBase, name: str = "dense"):
        self.kb = kb
        self.name = name

    def _retrieve(self, query: str, k: int, filters: Filters | None) -> list[Hit]:
        return self._batch_retrieve([query], k, filters)[0]

    def _batch_retrieve(self, queries: list[str], k: int, filters: Filters | None) -> list[list[Hit]]:
        snap = self.kb.searchable_snapshot()
        index = snap.index("vectors")
        results = index.search(self.kb.embed_queries(queries), k, snap.allowed_rows(filters))
        return [self.kb.hits(rows, scores, self.name) for rows, scores in results]
