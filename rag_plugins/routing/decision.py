"""What a router decides: which memories to search, how much each counts, and why.

:class:`RouteDecision` lives in :mod:`rag_plugins.routing_types` and the ``Router``
protocol in :mod:`rag_plugins.protocols`; both are re-exported here with the routes a
base can serve.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from rag_plugins.protocols import Router
from rag_plugins.retrievers.catalog import CATALOG
from rag_plugins.routing_types import RouteDecision

__all__ = ["ROUTES", "ROUTE_DESCRIPTIONS", "ROUTE_FUSION", "RouteDecision", "Router", "fuse_if_unsure"]

ROUTES = CATALOG.routes
"""Every route a knowledge base can serve (``kb.retriever(route)``), cheapest first: the
catalog's route kinds."""

ROUTE_DESCRIPTIONS = {route: CATALOG.get(route).summary for route in ROUTES}


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
