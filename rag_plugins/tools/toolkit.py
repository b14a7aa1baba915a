"""A set of tools for one knowledge base, and the dispatcher that runs a model's tool call
in whatever shape its framework wrote it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from rag_plugins.errors import InvalidInputError, RagPluginsError, ToolCallError
from rag_plugins.protocols import SearchObserver
from rag_plugins.routing.decision import ROUTE_DESCRIPTIONS
from rag_plugins.tools.research import ResearchTool
from rag_plugins.tools.result import ToolResult
from rag_plugins.tools.search import SearchTool
from rag_plugins.tools.spec import ToolSpec
from rag_plugins.tracing import ObservedRetriever

if TYPE_CHECKING:
    from rag_plugins.store.knowledge_base import KnowledgeBase

Tool = SearchTool | ResearchTool

ROUTED_DESCRIPTION = (
    "Search the knowledge base. By default a router picks keyword (BM25), semantic (dense), hybrid or "
    "knowledge-graph retrieval for the query and says why; set route to force one. Returns the best "
    "passages, each with its source id; cite sources by id."
)


def route_tool_name(route: str) -> str:
    """``search_bm25``, ``search_graph_hybrid``, ...

    >>> route_tool_name("graph+hybrid")
    'search_graph_hybrid'
    """
    return f"search_{route.replace('+', '_')}"


def restrict_tools(tools: Sequence[Tool], pinned_filters: Mapping[str, Any] | None = None,
                   allow_filter_operators: bool | None = None) -> list[Tool]:
    """``tools``, each with ``pinned_filters`` pinned as well (the filter every search runs
    under, which a model's filter can only narrow) and, unless None,
    ``allow_filter_operators`` replaced: what :class:`Toolkit` and the adapters' tool
    builders apply."""
    if pinned_filters is None and allow_filter_operators is None:
        return list(tools)
    return [tool.restricted(pinned_filters, allow_filter_operators) for tool in tools]


def route_description(route: str) -> str:
    return (f"Search the knowledge base with the '{route}' route. {ROUTE_DESCRIPTIONS.get(route, '')} "
            "Input: the search query. Returns the best passages, each with its source id.")


class Toolkit:
    """Named tools with JSON-schema specs, and one dispatcher for tool calls.

    :meth:`from_knowledge_base` builds the standard set: ``search`` (routed: the router
    picks the retrieval and says why, or the model names a ``route``), one
    ``search_<route>`` per route the base serves, and ``multi_hop_search`` (iterative
    retrieval) when the base has an embedder. A ``reranker`` and a confidence
    ``estimator`` apply to every search tool.

    :meth:`openai_tools` and :meth:`anthropic_tools` give the specs in OpenAI's and
    Anthropic's forms; :meth:`dispatch` runs a call in OpenAI, Anthropic or plain
    ``{"name", "arguments"}`` form and answers in the same form (see :func:`tool_reply`);
    :meth:`call` returns the :class:`ToolResult`.

    ``pinned_filters`` (e.g. ``{"tenant": "A"}``) apply to every search of every tool and
    a model's ``filters`` can only narrow them; a model's filters are equality only unless
    ``allow_filter_operators`` (see :func:`restrict_tools`).

    >>> import tempfile
    >>> from rag_plugins import Document, KnowledgeBase
    >>> kb = KnowledgeBase.open(tempfile.mkdtemp())
    >>> _ = kb.upsert([Document("a", "Error E1234 means the disk is full."), Document("b", "Pears.")])
    >>> _ = kb.commit()
    >>> tools = Toolkit.from_knowledge_base(kb)
    >>> tools.names
    ['search', 'search_bm25']
    >>> reply = tools.dispatch({"id": "call_1", "type": "function",
    ...                         "function": {"name": "search", "arguments": '{"query": "E1234", "k": 1}'}})
    >>> reply["tool_call_id"], reply["content"].splitlines()[0]
    ('call_1', 'Route: bm25 (identifier "E1234" → bm25)')
    >>> pinned = Toolkit.from_knowledge_base(kb, pinned_filters={"document_id": "b"})
    >>> [h.document_id for h in pinned.call("search_bm25", {"query": "E1234 pears"}).hits]
    ['b']
    """

    def __init__(self, tools: Sequence[Tool], *, pinned_filters: Mapping[str, Any] | None = None,
                 allow_filter_operators: bool | None = None):
        self._tools: dict[str, Tool] = {}
        for tool in restrict_tools(tools, pinned_filters, allow_filter_operators):
            if tool.name in self._tools:
                raise InvalidInputError(f"two tools are named {tool.name!r}; tool names must be unique")
            self._tools[tool.name] = tool
        if not self._tools:
            raise InvalidInputError("a toolkit needs at least one tool")

    @classmethod
    def from_knowledge_base(cls, kb: "KnowledgeBase", *, router: Any = None, routes: Sequence[str] | None = None,
                            route_tools: bool = True, reranker: Any = None, depth: int = 50, estimator: Any = None,
                            abstain_below: float | None = None, iterative: Any = "auto", k: int = 4,
                            max_k: int = 20, pinned_filters: Mapping[str, Any] | None = None,
                            allow_filter_operators: bool = False,
                            observers: Sequence[SearchObserver] = ()) -> "Toolkit":
        """The standard tools over ``kb``; ``iterative`` is ``"auto"`` (ITER-RETGEN with the
        offline extractive generator when the base has an embedder), False, or your own
        ``IterativePipeline``. ``pinned_filters`` and ``allow_filter_operators`` as for
        the constructor. ``observers`` (a :class:`~rag_plugins.ops.RetrievalLog`, a
        :class:`~rag_plugins.ops.CollapseMonitor`) see every search tool's searches."""
        from rag_plugins.routing import RoutedRetriever

        routed = RoutedRetriever(kb, router, routes)
        searched: Any = ObservedRetriever(routed, *observers) if observers else routed
        policy = None
        if estimator is not None:
            from rag_plugins.confidence import AbstentionPolicy

            policy = AbstentionPolicy(estimator, abstain_below)
        options = dict(k=k, max_k=max_k, reranker=reranker, depth=depth, policy=policy, document_info=kb.document_info)
        tools: list[Tool] = [SearchTool("search", searched, ROUTED_DESCRIPTION, **options)]
        if route_tools:
            tools += [SearchTool(route_tool_name(r), searched.retriever_for(r), route_description(r), **options)
                      for r in routed.routes]
        pipeline = _iterative_pipeline(kb, routed, iterative)
        if pipeline is not None:
            tools.append(ResearchTool(pipeline, k=max(k, 6), max_k=max_k, document_info=kb.document_info))
        return cls(tools, pinned_filters=pinned_filters, allow_filter_operators=allow_filter_operators)

    # the collection ----------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def __getitem__(self, name: str) -> Tool:
        try:
            return self._tools[name]
        except KeyError:
            raise ToolCallError(f"unknown tool {name!r}; the tools are {self.names}") from None

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def specs(self) -> list[ToolSpec]:
        return [tool.spec for tool in self]

    def openai_tools(self) -> list[dict[str, Any]]:
        """Every tool in OpenAI's ``tools=[...]`` form."""
        return [spec.openai() for spec in self.specs()]

    def anthropic_tools(self) -> list[dict[str, Any]]:
        """Every tool in the Anthropic Messages API's ``tools=[...]`` form
        (``{"name", "description", "input_schema"}``)."""
        return [spec.anthropic() for spec in self.specs()]

    # running calls -----------------------------------------------------------------------
    def call(self, name: str, arguments: Any = None) -> ToolResult:
        """Run tool ``name``; bad input raises :class:`ToolCallError` (or the retriever's own
        typed error, e.g. an unknown filter field)."""
        return self[name].run(arguments)

    async def acall(self, name: str, arguments: Any = None) -> ToolResult:
        return await self[name].arun(arguments)

    def dispatch(self, tool_call: Any) -> dict[str, Any]:
        """Run a model's tool call and return the reply in the call's own form
        (:func:`tool_reply`): an OpenAI tool call gets a ``{"role": "tool"}`` message, an
        Anthropic ``tool_use`` block a ``tool_result`` block, a plain call a plain reply.

        A refused call is returned, never raised: bad arguments, an unknown tool, a call
        that names no tool, even something that is not a tool call at all (answered in
        the plain form). The reply's ``is_error`` is set and its content tells the model
        what was wrong, so the loop can go on."""
        form, call_id, name, arguments, refusal = _read_call(tool_call)
        result = refusal
        if result is None:
            try:
                result = self.call(name, arguments)
            except RagPluginsError as exc:
                result = ToolResult.error(name, str(exc))
        return tool_reply(form, call_id, name, result)

    async def adispatch(self, tool_call: Any) -> dict[str, Any]:
        """:meth:`dispatch` for async loops."""
        form, call_id, name, arguments, refusal = _read_call(tool_call)
        result = refusal
        if result is None:
            try:
                result = await self.acall(name, arguments)
            except RagPluginsError as exc:
                result = ToolResult.error(name, str(exc))
        return tool_reply(form, call_id, name, result)


def tool_call_form(tool_call: Any) -> str:
    """``"openai"`` (``{"id", "type": "function", "function": {"name", "arguments"}}``),
    ``"anthropic"`` (a ``{"type": "tool_use", "id", "name", "input"}`` content block) or
    ``"plain"`` (``{"name", "arguments"}`` or LangChain's ``{"name", "args", "id"}``, and
    anything unrecognisable).

    >>> tool_call_form({"type": "tool_use", "id": "t1", "name": "search", "input": {}})
    'anthropic'
    """
    if not isinstance(tool_call, Mapping):
        return "plain"
    if isinstance(tool_call.get("function"), Mapping) or tool_call.get("type") == "function":
        return "openai"
    if tool_call.get("type") == "tool_use" or ("input" in tool_call and "arguments" not in tool_call
                                               and "args" not in tool_call):
        return "anthropic"
    return "plain"


def tool_reply(form: str, call_id: str | None, name: str | None, result: ToolResult) -> dict[str, Any]:
    """The reply to a tool call of ``form`` (:func:`tool_call_form`):

    - ``"openai"``: ``{"role": "tool", "tool_call_id", "content"}``, exactly the tool
      message the Chat Completions API takes (it has no error flag: a refusal's content
      starts with ``Error:``);
    - ``"anthropic"``: ``{"type": "tool_result", "tool_use_id", "content", "is_error"}``,
      a content block to send in the next ``{"role": "user", "content": [...]}`` message;
    - ``"plain"``: ``{"tool_call_id", "name", "content", "is_error"}`` (the fields of
      LangChain's ``ToolMessage``).

    >>> tool_reply("anthropic", "t1", "search", ToolResult.error("search", "k must be at least 1"))
    {'type': 'tool_result', 'tool_use_id': 't1', 'content': 'Error: k must be at least 1', 'is_error': True}
    """
    if form == "anthropic":
        return {"type": "tool_result", "tool_use_id": call_id, "content": result.content, "is_error": result.is_error}
    if form == "openai":
        return {"role": "tool", "tool_call_id": call_id, "content": result.content}
    return {"tool_call_id": call_id, "name": name, "content": result.content, "is_error": result.is_error}


def parse_tool_call(tool_call: Mapping[str, Any]) -> tuple[str | None, str, Any]:
    """(id, name, arguments) of a tool call in OpenAI form (``{"id", "function": {"name",
    "arguments"}}``), Anthropic form (``{"id", "name", "input"}``) or plain form
    (``{"name", "arguments"}``, as LangChain's ``tool_calls`` hold it). A call that is not
    a mapping or names no tool raises :class:`ToolCallError` (the dispatcher returns it
    as a refusal instead).

    >>> parse_tool_call({"type": "tool_use", "id": "t1", "name": "search", "input": {"query": "q"}})
    ('t1', 'search', {'query': 'q'})
    """
    if not isinstance(tool_call, Mapping):
        raise ToolCallError(f"a tool call must be a dict, got {type(tool_call).__name__}")
    body = tool_call.get("function") if isinstance(tool_call.get("function"), Mapping) else tool_call
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise ToolCallError(f"the tool call names no tool: {json.dumps(tool_call, default=str)[:200]}")
    arguments = body.get("arguments", body.get("args", tool_call.get("input")))
    call_id = tool_call.get("id") or tool_call.get("tool_call_id")
    return call_id, name, arguments


def _read_call(tool_call: Any) -> tuple[str, str | None, str | None, Any, ToolResult | None]:
    """(form, id, name, arguments, refusal): the refusal is set when the call cannot be read."""
    form = tool_call_form(tool_call)
    try:
        call_id, name, arguments = parse_tool_call(tool_call)
    except ToolCallError as exc:
        call_id = (tool_call.get("id") or tool_call.get("tool_call_id")) if isinstance(tool_call, Mapping) else None
        return form, call_id, None, None, ToolResult.error("", str(exc))
    return form, call_id, name, arguments, None


def _iterative_pipeline(kb: "KnowledgeBase", routed: Any, iterative: Any) -> Any:
    if iterative is False or iterative is None:
        return None
    if iterative != "auto":
        if not hasattr(iterative, "run") or not hasattr(iterative, "arun"):
            raise InvalidInputError("iterative must be 'auto', False or an IterativePipeline")
        return iterative
    if kb.embedder is None:
        return None
    from rag_plugins.generation import ExtractiveBridgeGenerator
    from rag_plugins.iterative import IterRetGen

    base = routed.retriever_for("hybrid") if "hybrid" in routed.routes else routed
    return IterRetGen(base, ExtractiveBridgeGenerator(kb), iterations=2)
