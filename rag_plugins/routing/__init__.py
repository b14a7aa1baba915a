"""Query routing: pick BM25, dense, hybrid or knowledge-graph retrieval per query, and say why.

Routers (rules, learned, LLM) return a :class:`RouteDecision`; :class:`RoutedRetriever`
runs it and records it on every hit.
"""

from rag_plugins.routing.decision import ROUTE_DESCRIPTIONS, ROUTES, RouteDecision, Router
from rag_plugins.routing.features import QueryAnalyzer, QueryFeatures
from rag_plugins.routing.learned import LearnedRouter
from rag_plugins.routing.llm import ROUTER_PROMPT, LLMRouter, parse_choice
from rag_plugins.routing.routed import RoutedResult, RoutedRetriever, fuse_if_unsure
from rag_plugins.routing.rules import RuleRouter, RuleThresholds
from rag_plugins.routing.training import (
    available_routes, embedding_info, fit_router, oracle_labels, query_features, train_router,
)

__all__ = [
    "LLMRouter", "LearnedRouter", "QueryAnalyzer", "QueryFeatures", "ROUTER_PROMPT", "ROUTES",
    "ROUTE_DESCRIPTIONS", "RouteDecision", "RoutedResult", "RoutedRetriever", "Router", "RuleRouter",
    "RuleThresholds", "available_routes", "embedding_info", "fit_router", "fuse_if_unsure", "oracle_labels",
    "parse_choice", "query_features", "train_router",
]
