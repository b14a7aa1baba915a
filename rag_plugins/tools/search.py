"""Any retriever as an agent's search tool, with the router, the reranker and the
abstention policy as optional stages."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import replace
from typing import Any, Mapping

from rag_plugins._validation import check_k
from rag_plugins.errors import InvalidInputError, UnknownFilterFieldError
from rag_plugins.filter_policy import FilterPolicy
from rag_plugins.protocols import Retriever
from rag_plugins.tools.passages import DocumentInfo, escape, format_passages, freshness, passage_records
from rag_plugins.tools.result import ToolResult
from rag_plugins.tools.spec import ToolSpec, check_arguments, search_parameters
from rag_plugins.tracing import TracedSearch, traced_search


class SearchTool:
    """A retriever as a tool: ``query``, ``k``, ``filters``, and ``route`` when the
    retriever is a ``RoutedRetriever`` (``"auto"`` lets its router choose and say why).

    ``reranker`` reranks ``depth`` candidates; ``policy`` (an ``AbstentionPolicy``) judges
    the final hits and, on weak evidence, the tool returns the insufficient-evidence notice
    instead of passages.

    ``pinned_filters`` apply to every call and the model's ``filters`` can only narrow
    them (:class:`~rag_plugins.filter_policy.FilterPolicy`); the model's filters are
    equality only unless ``allow_filter_operators``. With ``document_info`` (such as
    ``kb.document_info``; :meth:`Toolkit.from_knowledge_base` passes it), every passage
    says when its document last changed (``updated``).

    >>> import tempfile
    >>> from rag_plugins import Document, KnowledgeBase
    >>> kb = KnowledgeBase.open(tempfile.mkdtemp())
    >>> _ = kb.upsert([Document("a", "Pears are sweet."), Document("b", "Bolts are steel.")]); _ = kb.commit()
    >>> tool = SearchTool("search_bm25", kb.bm25_retriever(), "Keyword search.")
    >>> result = tool.run({"query": "pears", "k": 1})
    >>> [h.document_id for h in result.hits], result.data["passages"][0]["source"]
    (['a'], 'a#0')
    >>> pinned = SearchTool("search_bm25", kb.bm25_retriever(), "Keyword search.", pinned_filters={"document_id": "b"})
    >>> [h.document_id for h in pinned.run({"query": "pears bolts", "filters": {"document_id": "a"}}).hits]
    []
    """

    def __init__(self, name: str, retriever: Retriever, description: str, *, k: int = 4, max_k: int = 20,
                 reranker: Any = None, depth: int = 50, policy: Any = None, filters: bool = True,
                 pinned_filters: Mapping[str, Any] | None = None, allow_filter_operators: bool = False,
                 document_info: DocumentInfo | None = None):
        if not name.replace("_", "").replace("-", "").isalnum():
            raise InvalidInputError(f"tool name {name!r} must be letters, digits, '_' or '-' (what every framework accepts)")
        k, max_k = check_k(k), check_k(max_k, "max_k")
        if max_k < k:
            raise InvalidInputError(f"max_k ({max_k}) must be at least k ({k})")
        self.retriever = retriever
        self.reranker = reranker
        self.depth = check_k(depth, "depth")
        self.policy = policy
        self.document_info = document_info
        self.routes: tuple[str, ...] = tuple(getattr(retriever, "routes", ())) if hasattr(retriever, "retriever_for") else ()
        self.filter_policy = FilterPolicy(pinned_filters, allow_filter_operators)
        self._schema = (k, max_k, self.routes, filters)
        self.spec = ToolSpec(name, description, search_parameters(*self._schema, allow_filter_operators))

    @property
    def name(self) -> str:
        return self.spec.name

    def restricted(self, pinned_filters: Mapping[str, Any] | None = None,
                   allow_filter_operators: bool | None = None) -> "SearchTool":
        """A copy with ``pinned_filters`` pinned as well and, unless None,
        ``allow_filter_operators`` replaced."""
        tool = copy.copy(self)
        tool.filter_policy = self.filter_policy.restricted(pinned_filters, allow_filter_operators)
        tool.spec = replace(self.spec, parameters=search_parameters(*self._schema, tool.filter_policy.allow_operators))
        return tool

    def search(self, arguments: Any) -> TracedSearch:
        """The traced search the (checked) arguments ask for, under the pinned filters."""
        args = check_arguments(self.spec, arguments)
        route = args.get("route", "auto")
        target = self.retriever if route == "auto" else self.retriever.retriever_for(route)
        filters = self.filter_policy.apply(args.get("filters"))
        try:
            search = traced_search(target, args["query"], args["k"], filters, reranker=self.reranker,
                                   depth=self.depth, policy=self.policy)
        except UnknownFilterFieldError as exc:
            raise self.filter_policy.redact(exc) from None
        if route != "auto":
            search = replace(search, route={"routes": {route: 1.0}, "confidence": 1.0,
                                            "reasons": ["route chosen by the caller"], "router": "caller"})
        return search

    def run(self, arguments: Any) -> ToolResult:
        return search_result(self.name, self.search(arguments), self.document_info)

    async def arun(self, arguments: Any) -> ToolResult:
        """:meth:`run` in a worker thread, off the event loop."""
        return await asyncio.to_thread(self.run, arguments)


def search_result(tool: str, search: TracedSearch, document_info: DocumentInfo | None = None) -> ToolResult:
    """The tool result of a traced search: a header (route and why, confidence), then
    the passages (with their documents' last change, given ``document_info``), or the
    insufficient-evidence notice when the policy abstained."""
    header = []
    if search.route:
        routes = ", ".join(search.route["routes"])
        reasons = "; ".join(search.route.get("reasons", ()))
        header.append(f"Route: {routes}" + (f" ({escape(reasons, quote=False)})" if reasons else ""))
    if search.confidence is not None:
        header.append(f"Retrieval confidence: {search.confidence['confidence']:.2f} ({search.confidence['status']})")
    fresh = freshness(search.hits, document_info) if document_info else None
    body = (search.message or "Insufficient evidence.") if search.abstained else format_passages(search.hits, fresh=fresh)
    record = {key: value for key, value in search.to_dict().items() if key != "hits"}
    record["passages"] = passage_records(search.hits, fresh)
    record["provenance"] = search.provenance().to_dict()
    return ToolResult(tool, "\n".join(header) + ("\n\n" if header else "") + body, list(search.hits), record)
