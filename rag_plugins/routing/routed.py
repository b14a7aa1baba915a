"""Running a router's decision: one route, or the top two fused when the router is unsure."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from rag_plugins._search_scope import one_generation_per_search
from rag_plugins._validation import check_k, check_query
from rag_plugins.errors import InvalidInputError
from rag_plugins.filters import check_filters
from rag_plugins.protocols import Filters, Retriever
from rag_plugins.retrievers.base import BaseRetriever
from rag_plugins.retrievers.catalog import CATALOG, RetrieverKind, register_retriever, route_options
from rag_plugins.retrievers.fusion import FUSION_METHODS
from rag_plugins.retrievers.hybrid import HybridRetriever
from rag_plugins.routing.decision import ROUTE_FUSION, ROUTES, RouteDecision, Router, fuse_if_unsure
from rag_plugins.routing.features import QueryAnalyzer
from rag_plugins.routing.learned import UNTUNED_FUSE_BELOW
from rag_plugins.routing.rules import RuleRouter
from rag_plugins.types import Hit

if TYPE_CHECKING:
    from rag_plugins.protocols import SearchableBase

logger = logging.getLogger("rag_plugins.routing")


@dataclass(frozen=True)
class RoutedResult:
    """The decision, the hits it produced, and where the time went (seconds)."""

    decision: RouteDecision
    hits: list[Hit]
    timings: Mapping[str, float]


class RoutedRetriever(BaseRetriever):
    """Asks a router which memory suits each query, then searches only that one.

    Below ``fuse_below`` confidence the router's top two routes both run and their hits
    are fused (``fusion``, weighted by the router's scores). By default ``fuse_below`` is
    the router's own, chosen on its training data: 0.0 (never fuse) for the rule router,
    what ``train-router`` chose for a learned one, 0.5 for a router that has none. Every hit records the
    decision in ``hit.evidence["route"]`` (routes, weights, confidence, reasons, router);
    :meth:`retrieve_routed` also returns it, with timings, and ``on_decision`` (if given)
    sees each one, e.g. to log or trace it.

    ``routes`` restricts or replaces the memories: route names served by
    ``kb.retriever(name)``, or a mapping of route name to any retriever.

    >>> import tempfile
    >>> from rag_plugins import Document, KnowledgeBase
    >>> kb = KnowledgeBase.open(tempfile.mkdtemp())
    >>> _ = kb.upsert([Document("a", "Error E1234 means the disk is full."), Document("b", "Pears")])
    >>> _ = kb.commit()
    >>> routed = RoutedRetriever(kb)
    >>> result = routed.retrieve_routed("what is E1234?", k=1)
    >>> result.decision.route, result.hits[0].document_id
    ('bm25', 'a')
    >>> result.hits[0].evidence["route"]["reasons"]
    ['identifier "E1234" → bm25']
    """

    def __init__(self, kb: "SearchableBase", router: Router | None = None,
                 routes: Sequence[str] | Mapping[str, Retriever] | None = None, *, fuse_below: float | None = None,
                 fusion: str = ROUTE_FUSION, analyzer: QueryAnalyzer | None = None,
                 on_decision: Callable[[str, RouteDecision], None] | None = None, name: str = "routed"):
        router = router or RuleRouter()
        if fuse_below is None:
            fuse_below = getattr(router, "fuse_below", UNTUNED_FUSE_BELOW)
        if not 0.0 <= fuse_below <= 1.0:
            raise InvalidInputError(f"fuse_below must be in [0, 1], got {fuse_below!r}")
        if fusion not in FUSION_METHODS:
            raise InvalidInputError(f"unknown fusion method {fusion!r}; use one of {sorted(FUSION_METHODS)}")
        self.kb = kb
        self.router = router
        self._retrievers: dict[str, Retriever] = {}
        if isinstance(routes, Mapping):
            self._retrievers = dict(routes)
            self.routes = tuple(routes)
        else:
            offered = CATALOG.available(kb, routes_only=True)
            self.routes = tuple(routes) if routes is not None else offered
            missing = [r for r in self.routes if r not in offered]
            if missing:
                known = [r for r in missing if r in ROUTES]
                raise InvalidInputError(
                    f"routes {missing} are not available: this knowledge base serves {list(offered)}"
                    + ("" if len(known) == len(missing) else f"; route names are {list(ROUTES)}")
                )
        if not self.routes:
            raise InvalidInputError("a routed retriever needs at least one route")
        if name in self.routes:
            raise InvalidInputError(f"the routed retriever's name {name!r} clashes with a route")
        self.fuse_below = fuse_below
        self.fusion = fusion
        self.analyzer = analyzer or QueryAnalyzer(kb, rare_idf=getattr(self.router, "rare_idf", 6.0))
        self.on_decision = on_decision
        self.name = name

    def retriever_for(self, route: str) -> Retriever:
        """The retriever behind ``route`` (built once)."""
        if route not in self.routes:
            raise InvalidInputError(f"unknown route {route!r}; this retriever offers {list(self.routes)}")
        if route not in self._retrievers:
            self._retrievers[route] = self.kb.retriever(route)
        return self._retrievers[route]

    def route(self, query: str, filters: Filters | None = None) -> RouteDecision:
        """The decision for ``query``, after any fusion of an unsure one. Under ``filters``
        the router sees only the graph entities visible chunks mention, so its reasons
        never name an entity only hidden chunks hold."""
        check_query(query)
        check_filters(filters)
        embed = bool(getattr(self.router, "needs_embedding", False)) and self.kb.embedder is not None
        decision = self.router.decide(self.analyzer.features(query, embed=embed, filters=filters), self.routes)
        return fuse_if_unsure(decision, self.fuse_below, self.routes)

    def retrieve_routed(self, query: str, k: int = 10, filters: Filters | None = None) -> RoutedResult:
        """Route ``query``, search, and return the decision with the hits and timings."""
        check_query(query)
        k = check_k(k)
        with one_generation_per_search():  # the decision and the hits read one generation
            t0 = time.perf_counter()
            decision = self.route(query, filters)
            t1 = time.perf_counter()
            hits = self._search(decision, query, k, filters)
            t2 = time.perf_counter()
        timings = {"routing": t1 - t0, "retrieval": t2 - t1}
        logger.debug("route %s for %r: %s", dict(decision.routes), query, "; ".join(decision.reasons))
        if self.on_decision is not None:
            self.on_decision(query, decision)
        return RoutedResult(decision, hits, timings)

    async def aretrieve_routed(self, query: str, k: int = 10, filters: Filters | None = None) -> RoutedResult:
        """:meth:`retrieve_routed` in a worker thread, off the event loop."""
        check_query(query)
        k = check_k(k)
        return await asyncio.to_thread(self.retrieve_routed, query, k, filters)

    def _retrieve(self, query: str, k: int, filters: Filters | None) -> list[Hit]:
        return self.retrieve_routed(query, k, filters).hits

    def _search(self, decision: RouteDecision, query: str, k: int, filters: Filters | None) -> list[Hit]:
        if decision.fused:
            fused = HybridRetriever({r: self.retriever_for(r) for r in decision.routes}, method=self.fusion,
                                    weights=dict(decision.routes), name=self.name)
            hits = fused.retrieve(query, k=k, filters=filters)
        else:
            hits = self.retriever_for(decision.route).retrieve(query, k=k, filters=filters)
        record = decision.to_dict()
        return [Hit(h.chunk, h.score, {**h.scores, self.name: h.score}, {**h.ranks, self.name: rank}, h.provenance,
                    {**h.evidence, "route": record})
                for rank, h in enumerate(hits, start=1)]

    def describe(self) -> dict[str, Any]:
        return {"router": getattr(self.router, "name", type(self.router).__name__), "routes": list(self.routes),
                "fuse_below": self.fuse_below, "fusion": self.fusion}


def _routed(kb: "SearchableBase", router: Router | None = None, routes: Sequence[str] | None = None,
            fusion: str | None = None, graph_mode: str | None = None, **options: Any) -> RoutedRetriever:
    """A routed retriever whose routes use ``fusion`` and ``graph_mode`` (None: their defaults)."""
    if routes is None and fusion is None and graph_mode is None:
        return RoutedRetriever(kb, router, **options)
    names = tuple(routes) if routes is not None else CATALOG.available(kb, routes_only=True)
    built = {r: CATALOG.build(r, kb, **route_options(r, fusion, graph_mode)) for r in names}
    return RoutedRetriever(kb, router, built, **options)


register_retriever(RetrieverKind(
    "routed", "A router picks keyword, semantic, hybrid or knowledge-graph retrieval per query and says why "
              "(unsure decisions fuse the top two routes).",
    _routed, uses=("vectors", "graph"),
    options=("router", "routes", "fusion", "graph_mode", "fuse_below", "analyzer", "on_decision", "name")))
