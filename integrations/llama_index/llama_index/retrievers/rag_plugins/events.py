"""The route decision as a LlamaIndex instrumentation event (sent by ``RagPluginsRetriever``
over a ``RoutedRetriever``). Its own module, so the retriever and the routing helpers both
import it without importing each other."""

from __future__ import annotations

from typing import Any, Dict

from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.events import BaseEvent

# the routing module's dispatcher, where handlers have always received these events
dispatcher = get_dispatcher("llama_index.retrievers.rag_plugins.routing")


class RouteDecisionEvent(BaseEvent):
    """Emitted by ``RagPluginsRetriever`` over a ``RoutedRetriever``: which routes ran for
    ``query``, with the router's confidence, reasons and timings."""

    query: str
    decision: Dict[str, Any]
    timings: Dict[str, float]

    @classmethod
    def class_name(cls) -> str:
        return "RouteDecisionEvent"


def emit_route_decision(search: Any) -> None:
    dispatcher.event(RouteDecisionEvent(query=search.query, decision=dict(search.route),
                                        timings=dict(search.timings)))
