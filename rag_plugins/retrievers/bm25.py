"""BM25 retrieval over a knowledge base, with filters applied inside scoring."""

from __future__ import annotations

from rag_plugins.errors import InvalidInputError
from rag_plugins.index.bm25 import BM25_STATISTICS
from rag_plugins.protocols import Filters, SearchableBase
from rag_plugins.retrievers.base import BaseRetriever
from rag_plugins.types import Hit


class BM25Retriever(BaseRetriever):
    """Lucene-style BM25 over a knowledge base's committed chunks.

    ``statistics`` (default: the base's ``bm25_statistics``, itself ``"collection"``)
    decides what IDF and average length are computed over: the whole collection, or with
    ``"filtered"`` the chunks a filtered query may see, so that one tenant's documents
    cannot shift (and so reveal themselves through) another tenant's scores.

    A hit is a chunk that shares at least one term with the query: chunks scoring 0 are
    not returned, so fewer than ``k`` hits come back when fewer chunks match, and a query
    no chunk shares a term with (stopwords only, say) returns ``[]``. A filtered query
    ranks only chunks that pass the filter, so it returns ``k`` hits whenever ``k`` such
    chunks match.

    >>> import tempfile
    >>> from rag_plugins import Document, KnowledgeBase
    >>> kb = KnowledgeBase.open(tempfile.mkdtemp())
    >>> _ = kb.upsert([Document("a", "solar panels", {"lang": "en"}), Document("b", "Solarzellen", {"lang": "de"}),
    ...                Document("c", "Solarzellen und solar", {"lang": "de"})])
    >>> _ = kb.commit()
    >>> [h.chunk.id for h in BM25Retriever(kb).retrieve("solar", k=5, filters={"lang": "de"})]
    ['c#0']
    >>> BM25Retriever(kb).retrieve("the", k=5)
    []
    """

    score_floor = 0.0
    unreturned_at_floor = True  # a chunk it does not return shares no term with the query: scores 0

    def __init__(self, kb: SearchableBase, name: str = "bm25", statistics: str | None = None):
        if statistics is not None and statistics not in BM25_STATISTICS:
            raise InvalidInputError(f"statistics must be one of {BM25_STATISTICS}, got {statistics!r}")
        self.kb = kb
        self.name = name
        self.statistics = statistics

    def _retrieve(self, query: str, k: int, filters: Filters | None) -> list[Hit]:
        snap = self.kb.searchable_snapshot()
        statistics = self.statistics or self.kb.bm25_statistics
        rows, scores = snap.index("bm25").search_positions(query, k, snap.allowed_positions(filters), statistics)
        return self.kb.hits(rows, scores, self.name)

    def _batch_retrieve(self, queries: list[str], k: int, filters: Filters | None) -> list[list[Hit]]:
        snap = self.kb.searchable_snapshot()
        allowed = snap.allowed_positions(filters)
        index = snap.index("bm25")
        filtered = (self.statistics or self.kb.bm25_statistics) == "filtered" and allowed is not None
        if filtered or not hasattr(index, "search_positions_batch"):
            return [self._retrieve(q, k, filters) for q in queries]
        return [self.kb.hits(rows, scores, self.name) for rows, scores in index.search_positions_batch(queries, k, allowed)]
