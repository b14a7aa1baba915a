"""One search, start to finish, with everything worth seeing about it: the route decision,
every hit's per-source and rerank scores, the confidence, and where the time went.

Framework adapters, agent tools and the MCP server all search through :func:`traced_search`,
so callbacks, instrumentation events, tool results and logs report the same record. Each
search is logged once on the ``rag_plugins.retrieval`` logger at INFO, with the record as
the ``rag_plugins`` attribute of the log record (a JSON formatter picks it up from there).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from rag_plugins._validation import check_k, check_query
from rag_plugins.filters import check_filters
from rag_plugins.protocols import Filters, Retriever
from rag_plugins.types import Hit

logger = logging.getLogger("rag_plugins.retrieval")


@dataclass(frozen=True)
class TracedSearch:
    """What one search returned and how it got there.

    ``route`` is the router's decision (routes, weights, confidence, reasons), when a
    router decided; ``confidence`` is the calibrated confidence record (value, status,
    features), when an abstention policy judged the hits; ``abstained`` then says whether
    it refused, with ``message`` for the model. ``timings`` are seconds per stage
    (``routing``, ``retrieval``, ``rerank``, ``confidence``) plus ``total``.
    """

    query: str
    retriever: str
    k: int
    hits: list[Hit]
    timings: dict[str, float]
    route: Mapping[str, Any] | None = None
    confidence: Mapping[str, Any] | None = None
    abstained: bool = False
    message: str | None = None
    candidates: list[Hit] = field(default_factory=list)

    def to_dict(self, text: bool = False) -> dict[str, Any]:
        """A JSON-ready record: the query, the stages' timings, route, confidence and each
        hit's ids, scores and ranks (and text, with ``text=True``)."""
        hits = []
        for hit in self.hits:
            row = {"chunk_id": hit.chunk.id, "document_id": hit.document_id, "score": hit.score,
                   "scores": dict(hit.scores), "ranks": dict(hit.ranks)}
            if text:
                row["text"] = hit.chunk.text
            hits.append(row)
        return {"query": self.query, "retriever": self.retriever, "k": self.k, "timings": dict(self.timings),
                "route": dict(self.route) if self.route is not None else None,
                "confidence": dict(self.confidence) if self.confidence is not None else None,
                "abstained": self.abstained, "hits": hits}

    def hit_metadata(self) -> dict[str, Any]:
        """What every returned hit's framework document also carries: the timings, and the
        confidence and status when there is a confidence record."""
        extra: dict[str, Any] = {"timings": dict(self.timings)}
        if self.confidence is not None:
            extra.update(confidence=self.confidence.get("confidence"), status=self.confidence.get("status"),
                         abstained=self.abstained)
        return extra


def traced_search(retriever: Retriever, query: str, k: int = 10, filters: Filters | None = None, *,
                  reranker: Any = None, depth: int | None = None, policy: Any = None) -> TracedSearch:
    """Search ``retriever`` for ``k`` hits, optionally rerank ``depth`` candidates with
    ``reranker`` and judge them with an ``AbstentionPolicy``, timing each stage.

    A ``RoutedRetriever`` reports its decision, an ``AbstainingRetriever`` its confidence,
    whichever way it is reached.

    >>> import tempfile
    >>> from rag_plugins import Document, KnowledgeBase
    >>> kb = KnowledgeBase.open(tempfile.mkdtemp())
    >>> _ = kb.upsert([Document("a", "Pears are sweet."), Document("b", "Bolts are steel.")]); _ = kb.commit()
    >>> search = traced_search(kb.bm25_retriever(), "pears", k=1)
    >>> search.hits[0].document_id, sorted(search.timings)
    ('a', ['retrieval', 'total'])
    """
    check_query(query)
    k = check_k(k)
    check_filters(filters)
    start = time.perf_counter()
    timings: dict[str, float] = {}
    fetch = max(k, depth or k) if reranker is not None else k
    route = confidence = message = None
    abstained = False
    if hasattr(retriever, "retrieve_routed"):
        routed = retriever.retrieve_routed(query, k=fetch, filters=filters)
        hits, candidates, route = routed.hits, routed.hits, routed.decision.to_dict()
        timings.update(routed.timings)
    elif hasattr(retriever, "retrieve_with_confidence") and reranker is None:
        judged = retriever.retrieve_with_confidence(query, k=fetch, filters=filters)
        timings["retrieval"] = time.perf_counter() - start
        hits, candidates = judged.hits, judged.candidates
        confidence, abstained, message = judged.confidence.to_dict(), judged.abstained, judged.message
    else:
        hits = candidates = retriever.retrieve(query, k=fetch, filters=filters)
        timings["retrieval"] = time.perf_counter() - start
    if route is None and candidates:
        route = candidates[0].evidence.get("route")
    search = TracedSearch(query, getattr(retriever, "name", type(retriever).__name__), k, list(hits), timings,
                          route, confidence, abstained, message, list(candidates))
    if reranker is not None or policy is not None:
        search = _judged(search, reranker, policy)
    timings["total"] = time.perf_counter() - start
    log_search(search)
    return search


def traced_rerank(query: str, hits: list[Hit], reranker: Any = None, top_n: int | None = None, policy: Any = None,
                  name: str = "input") -> TracedSearch:
    """Rerank hits that came from elsewhere (a framework's retriever) and judge them:
    what a document compressor or node postprocessor does, traced the same way."""
    start = time.perf_counter()
    search = _judged(TracedSearch(query, name, top_n or len(hits), list(hits), {}, candidates=list(hits)),
                     reranker, policy)
    search.timings["total"] = time.perf_counter() - start
    log_search(search)
    return search


def _judged(search: TracedSearch, reranker: Any, policy: Any) -> TracedSearch:
    hits, timings = search.hits, search.timings
    route, confidence, abstained, message = search.route, search.confidence, search.abstained, search.message
    if reranker is not None:
        t0 = time.perf_counter()
        hits = reranker.rerank(search.query, hits, top_n=search.k)
        timings["rerank"] = time.perf_counter() - t0
    if policy is not None:
        t0 = time.perf_counter()
        judged = policy.decide(search.query, list(hits))
        timings["confidence"] = time.perf_counter() - t0
        hits, confidence, abstained, message = judged.hits, judged.confidence.to_dict(), judged.abstained, judged.message
    return TracedSearch(search.query, search.retriever, search.k, list(hits), timings, route, confidence, abstained,
                        message, search.candidates)


async def atraced_search(retriever: Retriever, query: str, k: int = 10, filters: Filters | None = None,
                         **options: Any) -> TracedSearch:
    """:func:`traced_search` in a worker thread: the event loop keeps serving while the
    CPU-bound search, reranking and confidence run."""
    return await asyncio.to_thread(traced_search, retriever, query, k, filters, **options)


def log_search(search: TracedSearch) -> None:
    """One INFO record per search on ``rag_plugins.retrieval``; the structured record is
    the log record's ``rag_plugins`` attribute."""
    if not logger.isEnabledFor(logging.INFO):
        return
    route = search.route["routes"] if search.route else None
    confidence = search.confidence.get("confidence") if search.confidence else None
    logger.info("search retriever=%s k=%d hits=%d total_ms=%.1f route=%s confidence=%s abstained=%s",
                search.retriever, search.k, len(search.hits), 1000 * search.timings["total"], route,
                None if confidence is None else round(confidence, 3), search.abstained,
                extra={"rag_plugins": {"event": "search", **search.to_dict()}})
