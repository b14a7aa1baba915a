"""One search, start to finish, with everything worth seeing about it: the route decision,
every hit's per-source and rerank scores, the confidence, and where the time went.

Framework adapters, agent tools and the MCP server all search through :func:`traced_search`,
so callbacks, instrumentation events, tool results and logs report the same record. Each
search is logged once on the ``rag_plugins.retrieval`` logger at INFO, with the record as
the ``rag_plugins`` attribute of the log record (a JSON formatter picks it up from there).
A retriever wrapped in :class:`ObservedRetriever` also hands each record to its observers
(a retrieval log, a collapse monitor), whichever adapter or tool searched it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

from rag_plugins._search_scope import generations_read, one_generation_per_search
from rag_plugins._validation import check_k, check_query
from rag_plugins.filters import check_filters
from rag_plugins.protocols import Filters, Retriever, SearchObserver
from rag_plugins.types import Hit

logger = logging.getLogger("rag_plugins.retrieval")


@dataclass(frozen=True)
class TracedSearch:
    """What one search returned and how it got there.

    ``route`` is the router's decision (routes, weights, confidence, reasons), when a
    router decided; ``confidence`` is the calibrated confidence record (value, status,
    features), when an abstention policy judged the hits; ``abstained`` then says whether
    it refused, with ``message`` for the model. ``timings`` are seconds per stage
    (``routing``, ``retrieval``, ``rerank``, ``confidence``) plus ``total``. ``filters``
    is the filter the search ran under, ``generations`` the generation of each knowledge
    base it read, and ``started_at`` the wall-clock time it began (seconds since the epoch).
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
    filters: Mapping[str, Any] | None = None
    generations: tuple[int, ...] = ()
    started_at: float = 0.0

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
                "abstained": self.abstained, "filters": dict(self.filters) if self.filters else None,
                "generations": list(self.generations), "hits": hits}

    def provenance(self) -> Provenance:
        """Which memory this search's answer context comes from (``none`` when it abstained)."""
        hits = () if self.abstained else self.hits
        return Provenance("none" if self.abstained else "retrieval", self.retriever,
                          tuple(dict.fromkeys(s for h in hits for s in h.provenance)), tuple(h.chunk.id for h in hits),
                          tuple(dict.fromkeys(h.document_id for h in hits)), tuple(self.generations))

    def hit_metadata(self) -> dict[str, Any]:
        """What every returned hit's framework document also carries: the timings, the
        generations of the bases it was read from (its provenance), and the confidence and
        status when there is a confidence record."""
        extra: dict[str, Any] = {"timings": dict(self.timings), "generations": list(self.generations)}
        if self.confidence is not None:
            extra.update(confidence=self.confidence.get("confidence"), status=self.confidence.get("status"),
                         abstained=self.abstained)
        return extra


MEMORIES = ("retrieval", "parametric", "none")
"""Where an answer came from: retrieved passages, the model alone (the adaptive gate
skipped retrieval), or nothing (it abstained: the answer is the insufficient-evidence notice)."""


@dataclass(frozen=True)
class Provenance:
    """Which memory sourced an answer: ``memory`` (:data:`MEMORIES`), the retriever and
    the indexes or routes its passages came from (``sources``, as the hits credit them),
    the ``chunks`` and ``documents`` in its final context, and the ``generations`` of the
    bases its searches read.

    >>> Provenance("parametric", "adaptive", (), (), (), ()).to_dict()["memory"]
    'parametric'
    """

    memory: str
    retriever: str
    sources: tuple[str, ...]
    chunks: tuple[str, ...]
    documents: tuple[str, ...]
    generations: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"memory": self.memory, "retriever": self.retriever, "sources": list(self.sources),
                "chunks": list(self.chunks), "documents": list(self.documents), "generations": list(self.generations)}


def traced_search(retriever: Retriever, query: str, k: int = 10, filters: Filters | None = None, *,
                  reranker: Any = None, depth: int | None = None, policy: Any = None,
                  observers: Sequence[SearchObserver] = ()) -> TracedSearch:
    """Search ``retriever`` for ``k`` hits, optionally rerank ``depth`` candidates with
    ``reranker`` and judge them with an ``AbstentionPolicy``, timing each stage, then hand
    the record to ``observers`` (and to those of an :class:`ObservedRetriever`).

    A ``RoutedRetriever`` reports its decision, an ``AbstainingRetriever`` its confidence,
    whichever way it is reached.

    >>> import tempfile
    >>> from rag_plugins import Document, KnowledgeBase
    >>> kb = KnowledgeBase.open(tempfile.mkdtemp())
    >>> _ = kb.upsert([Document("a", "Pears are sweet."), Document("b", "Bolts are steel.")]); _ = kb.commit()
    >>> search = traced_search(kb.bm25_retriever(), "pears", k=1)
    >>> search.hits[0].document_id, sorted(search.timings), search.generations
    ('a', ['retrieval', 'total'], (1,))
    """
    check_query(query)
    k = check_k(k)
    check_filters(filters)
    observers = list(observers)
    while isinstance(retriever, ObservedRetriever):
        observers += retriever.observers
        retriever = retriever.retriever
    started_at = time.time()
    start = time.perf_counter()
    timings: dict[str, float] = {}
    fetch = max(k, depth or k) if reranker is not None else k
    route = confidence = message = None
    abstained = False
    with one_generation_per_search():
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
        generations = generations_read()
    if route is None and candidates:
        route = candidates[0].evidence.get("route")
    search = TracedSearch(query, getattr(retriever, "name", type(retriever).__name__), k, list(hits), timings,
                          route, confidence, abstained, message, list(candidates), filters, generations, started_at)
    if reranker is not None or policy is not None:
        search = _judged(search, reranker, policy)
    timings["total"] = time.perf_counter() - start
    log_search(search)
    notify(observers, search)
    return search


class ObservedRetriever:
    """``retriever``, with every search through :func:`traced_search` (the LangChain and
    LlamaIndex adapters, the agent tools, the MCP server) handed to ``observers`` as well:
    a :class:`~rag_plugins.ops.RetrievalLog`, a :class:`~rag_plugins.ops.CollapseMonitor`.
    Calling its own ``retrieve`` traces the search too. Observers see the finished record
    after the search; one that raises is logged and skipped, never failing the search.

    >>> import tempfile
    >>> from rag_plugins import Document, KnowledgeBase
    >>> kb = KnowledgeBase.open(tempfile.mkdtemp())
    >>> _ = kb.upsert([Document("a", "Pears are sweet."), Document("b", "Bolts are steel.")]); _ = kb.commit()
    >>> class Seen:
    ...     queries = []
    ...     def observe(self, search): self.queries.append(search.query)
    >>> watched = ObservedRetriever(kb.bm25_retriever(), Seen())
    >>> [h.document_id for h in watched.retrieve("pears", k=1)], Seen.queries
    (['a'], ['pears'])
    """

    def __init__(self, retriever: Retriever, *observers: SearchObserver):
        self.retriever = retriever
        self.observers = list(observers)
        self.name = getattr(retriever, "name", type(retriever).__name__)

    def retrieve(self, query: str, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        return traced_search(self, query, k, filters).hits

    async def aretrieve(self, query: str, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        return (await atraced_search(self, query, k, filters)).hits

    def batch_retrieve(self, queries: Sequence[str], k: int = 10, filters: Filters | None = None) -> list[list[Hit]]:
        return [self.retrieve(query, k, filters) for query in queries]

    def __getattr__(self, name: str) -> Any:
        # what callers read from the wrapped retriever (routes, kb), except the search entry
        # points traced_search would otherwise call around the observers
        if name in {"retrieve_routed", "retrieve_with_confidence"} or name.startswith("__"):
            raise AttributeError(name)
        inner = getattr(self.__dict__["retriever"], name)
        if name == "retriever_for":  # a routed retriever's single routes stay observed
            return lambda route: ObservedRetriever(inner(route), *self.observers)
        return inner

    def __repr__(self) -> str:
        return f"ObservedRetriever({self.retriever!r}, observers={len(self.observers)})"


def notify(observers: Sequence[SearchObserver], search: TracedSearch) -> None:
    """Hand ``search`` to each observer; one that raises is logged, not propagated."""
    for observer in observers:
        try:
            observer.observe(search)
        except Exception:  # an observer must never fail the search it watches
            logger.warning("search observer %r failed", observer, exc_info=True)


def traced_rerank(query: str, hits: list[Hit], reranker: Any = None, top_n: int | None = None, policy: Any = None,
                  name: str = "input") -> TracedSearch:
    """Rerank hits that came from elsewhere (a framework's retriever) and judge them:
    what a document compressor or node postprocessor does, traced the same way."""
    start = time.perf_counter()
    search = _judged(TracedSearch(query, name, top_n or len(hits), list(hits), {}, candidates=list(hits),
                                  started_at=time.time()), reranker, policy)
    search.timings["total"] = time.perf_counter() - start
    log_search(search)
    return search


def _judged(search: TracedSearch, reranker: Any, policy: Any) -> TracedSearch:
    hits, timings = search.hits, search.timings
    confidence, abstained, message = search.confidence, search.abstained, search.message
    if reranker is not None:
        t0 = time.perf_counter()
        hits = reranker.rerank(search.query, hits, top_n=search.k)
        timings["rerank"] = time.perf_counter() - t0
    if policy is not None:
        t0 = time.perf_counter()
        judged = policy.decide(search.query, list(hits))
        timings["confidence"] = time.perf_counter() - t0
        hits, confidence, abstained, message = judged.hits, judged.confidence.to_dict(), judged.abstained, judged.message
    return replace(search, hits=list(hits), confidence=confidence, abstained=abstained, message=message)


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
