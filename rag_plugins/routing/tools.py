"""What an agent needs to pick a route itself: one search tool per route, described for a
model, and the text a tool returns (retrieved text marked as data, with its source id)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from rag_plugins.routing.decision import ROUTE_DESCRIPTIONS
from rag_plugins.types import Hit


@dataclass(frozen=True)
class RouteToolSpec:
    """A route as a tool: its name (``search_bm25``...), the route, and a description
    written for the model that decides when to call it."""

    name: str
    route: str
    description: str


def route_tool_specs(routes: Sequence[str]) -> list[RouteToolSpec]:
    """One spec per route, in the order given.

    >>> [s.name for s in route_tool_specs(["bm25", "graph+hybrid"])]
    ['search_bm25', 'search_graph_hybrid']
    """
    return [RouteToolSpec(f"search_{route.replace('+', '_')}", route,
                          f"Search the knowledge base with the '{route}' route. {ROUTE_DESCRIPTIONS.get(route, '')} "
                          "Input: the search query. Returns the best passages, each with its source id.")
            for route in routes]


def format_hits(hits: Sequence[Hit]) -> str:
    """Hits as text for a model: numbered passages with their source ids, wrapped as
    retrieved data (not instructions).

    >>> from rag_plugins.types import Chunk
    >>> print(format_hits([Hit(Chunk("d#0", "d", "Pears are fruit.", 0), 1.0)]))
    [1] source: d#0
    <retrieved>
    Pears are fruit.
    </retrieved>
    """
    if not hits:
        return "No passages found."
    blocks = []
    for i, hit in enumerate(hits, start=1):
        text = hit.chunk.text.replace("</retrieved>", "</ retrieved>")
        blocks.append(f"[{i}] source: {hit.chunk.id}\n<retrieved>\n{text}\n</retrieved>")
    return "\n\n".join(blocks)
