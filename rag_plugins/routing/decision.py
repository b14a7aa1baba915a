"""What a router decides: which memories to search, how much each counts, and why."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

from rag_plugins.errors import InvalidInputError
from rag_plugins.retrievers.catalog import CATALOG
from rag_plugins.routing.features import QueryFeatures

ROUTES = CATALOG.routes
"""Every route a knowledge base can serve (``kb.retriever(route)``), cheapest first: the
catalog's route kinds."""

ROUTE_DESCRIPTIONS = {route: CATALOG.get(route).summary for route in ROUTES}


@dataclass(frozen=True)
class RouteDecision:
    """The routes to run with their fusion weights (best first, summing to 1), the
    router's confidence in its first choice, and readable reasons.

    ``scores`` holds the router's score for every route it considered (probabilities for
    the learned router). ``fallback`` says why another router decided, when one did.

    >>> d = RouteDecision({"bm25": 1.0}, 0.9, ("quoted phrase + rare terms → bm25",), "rules")
    >>> d.route, d.fused
    ('bm25', False)
    """

    routes: Mapping[str, float]
    confidence: float
    reasons: tuple[str, ...]
    router: str
    scores: Mapping[str, float] = field(default_factory=dict)
    fallback: str | None = None

    def __post_init__(self) -> None:
        if not self.routes:
            raise InvalidInputError("a route decision needs at least one route")
        total = sum(self.routes.values())
        if total <= 0 or any(w < 0 for w in self.routes.values()):
            raise InvalidInputError(f"route weights must be >= 0 with a positive sum, got {dict(self.routes)}")
        ordered = sorted(self.routes.items(), key=lambda kv: -kv[1])
        object.__setattr__(self, "routes", {r: w / total for r, w in ordered})
        object.__setattr__(self, "confidence", float(min(1.0, max(0.0, self.confidence))))

    @property
    def route(self) -> str:
        """The first choice."""
        return next(iter(self.routes))

    @property
    def fused(self) -> bool:
        """Whether more than one route runs (their hits are fused)."""
        return len(self.routes) > 1

    def to_dict(self) -> dict[str, Any]:
        out = {"routes": {r: round(w, 4) for r, w in self.routes.items()}, "confidence": round(self.confidence, 4),
               "reasons": list(self.reasons), "router": self.router}
        if self.scores:
            out["scores"] = {r: round(float(s), 4) for r, s in self.scores.items()}
        if self.fallback:
            out["fallback"] = self.fallback
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RouteDecision":
        return cls(dict(data["routes"]), float(data["confidence"]), tuple(data.get("reasons", ())),
                   str(data.get("router", "")), dict(data.get("scores", {})), data.get("fallback"))


@runtime_checkable
class Router(Protocol):
    """Decides which routes answer a query. ``needs_embedding`` asks the caller to put the
    query embedding into the features (the learned router reads it)."""

    name: str
    needs_embedding: bool

    def decide(self, features: QueryFeatures, routes: tuple[str, ...]) -> RouteDecision: ...


ROUTE_FUSION = "rrf"  # routes' scores are not comparable (PageRank mass, BM25, cosine): fuse by rank


def fuse_if_unsure(decision: RouteDecision, fuse_below: float, routes: Sequence[str]) -> RouteDecision:
    """``decision`` with its top two scored routes (among ``routes``) to be fused, weighted
    by their scores, when its confidence is below ``fuse_below``; else unchanged.

    >>> d = RouteDecision({"bm25": 1.0}, 0.4, ("close call",), "x", {"bm25": 0.4, "dense": 0.35})
    >>> fuse_if_unsure(d, 0.5, ("bm25", "dense")).reasons[-1]
    'confidence 0.40 < 0.50 → fuse bm25 and dense'
    """
    if decision.fused or decision.confidence >= fuse_below:
        return decision
    ranked = sorted(((r, s) for r, s in decision.scores.items() if r in routes), key=lambda rs: -rs[1])
    if len(ranked) < 2 or ranked[1][1] <= 0:
        return decision
    (a, sa), (b, sb) = ranked[:2]
    note = f"confidence {decision.confidence:.2f} < {fuse_below:.2f} → fuse {a} and {b}"
    return replace(decision, routes={a: sa, b: sb}, reasons=(*decision.reasons, note))
