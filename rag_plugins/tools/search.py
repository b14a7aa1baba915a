"""Any retriever as an agent's search tool, with the router, the reranker and the
abstention policy as optional stages."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from rag_plugins._validation import check_k
from rag_plugins.errors import InvalidInputError
from rag_plugins.protocols import Retriever
from rag_plugins.tools.passages import escape, format_passages, passage_records
from rag_plugins.tools.result import ToolResult
from rag_plugins.tools.spec import ToolSpec, check_arguments, search_parameters
from rag_plugins.tracing import TracedSearch, traced_search


class SearchTool:
    """A retriever as a tool: ``query``, ``k``, ``filters``, and ``route`` when the
    retriever is a ``RoutedRetriever`` (``"auto"`` lets its router choose and say why).

    ``reranker`` reranks ``depth`` candidates; ``policy`` (an ``AbstentionPolicy``) judges
    the final hits and, on weak evidence, the tool returns the insufficient-evidence notice
    instead of passages.

    >>> import tempfile
    >>> from rag_plugins import Document, KnowledgeBase
    >>> kb = KnowledgeBase.open(tempfile.mkdtemp())
    >>> _ = kb.upsert([Document("a", "Pears are sweet."), Document("b", "Bolts are steel.")]); _ = kb.commit()
    >>> tool = SearchTool("search_bm25", kb.bm25_retriever(), "Keyword search.")
    >>> result = tool.run({"query": "pears", "k": 1})
    >>> [h.document_id for h in result.hits], result.data["passages"][0]["source"]
    (['a'], 'a#0')
    """

    def __init__(self, name: str, retriever: Retriever, description: str, *, k: int = 4, max_k: int = 20,
                 reranker: Any = None, depth: int = 50, policy: Any = None, filters: bool = True):
        if not name.replace("_", "").replace("-", "").isalnum():
            raise InvalidInputError(f"tool name {name!r} must be letters, digits, '_' or '-' (what every framework accepts)")
        check_k(k)
        if check_k(max_k, "max_k") < k:
            raise InvalidInputError(f"max_k ({max_k}) must be at least k ({k})")
        self.retriever = retriever
        self.reranker = reranker
        self.depth = check_k(depth, "depth")
        self.policy = policy
        self.routes: tuple[str, ...] = tuple(getattr(retriever, "routes", ())) if hasattr(retriever, "retriever_for") else ()
        self.spec = ToolSpec(name, description, search_parameters(k, max_k, self.routes, filters))

    @property
    def name(self) -> str:
        return self.spec.name

    def search(self, arguments: Any) -> TracedSearch:
        """The traced search the (checked) arguments ask for."""
        args = check_arguments(self.spec, arguments)
        route = args.get("route", "auto")
        target = self.retriever if route == "auto" else self.retriever.retriever_for(route)
        search = traced_search(target, args["query"], args["k"], args.get("filters"), reranker=self.reranker,
                               depth=self.depth, policy=self.policy)
        if route != "auto":
            search = replace(search, route={"routes": {route: 1.0}, "confidence": 1.0,
                                            "reasons": ["route chosen by the caller"], "router": "caller"})
        return search

    def run(self, arguments: Any) -> ToolResult:
        return search_result(self.name, self.search(arguments))

    async def arun(self, arguments: Any) -> ToolResult:
        """:meth:`run` in a worker thread, off the event loop."""
        return await asyncio.to_thread(self.run, arguments)


def search_result(tool: str, search: TracedSearch) -> ToolResult:
    """The tool result of a traced search: a header (route and why, confidence), then
    the passages, or the insufficient-evidence notice when the policy abstained."""
    header = []
    if search.route:
        routes = ", ".join(search.route["routes"])
        reasons = "; ".join(search.route.get("reasons", ()))
        header.append(f"Route: {routes}" + (f" ({escape(reasons, quote=False)})" if reasons else ""))
    if search.confidence is not None:
        header.append(f"Retrieval confidence: {search.confidence['confidence']:.2f} ({search.confidence['status']})")
    body = (search.message or "Insufficient evidence.") if search.abstained else format_passages(search.hits)
    record = {key: value for key, value in search.to_dict().items() if key != "hits"}
    record["passages"] = passage_records(search.hits)
    return ToolResult(tool, "\n".join(header) + ("\n\n" if header else "") + body, list(search.hits), record)
