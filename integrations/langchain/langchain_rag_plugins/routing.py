"""Query routing for LangChain: a chat model as the router, and one tool per route for
agents that pick the route themselves."""

from __future__ import annotations

from typing import Any, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import StructuredTool

from langchain_rag_plugins.tools import langchain_tool
from rag_plugins.routing.llm import ROUTER_PROMPT, LLMRouter
from rag_plugins.tools import SearchTool, route_description, route_tool_name


class ChatModelRouter(LLMRouter):
    """An :class:`~rag_plugins.routing.LLMRouter` asking a LangChain chat model.

    Models with tool calling answer through ``with_structured_output`` (a ``RouteChoice``);
    others answer JSON text. A timeout, an error or an invalid answer falls back to the
    rule router, and the decision says why::

        from langchain_openai import ChatOpenAI
        router = ChatModelRouter(ChatOpenAI(model="gpt-4o-mini"), timeout=5)
        retriever = RoutedRetriever(kb, router)
    """

    def __init__(self, chat_model: BaseChatModel, *, structured: bool | None = None, timeout: float = 10.0,
                 prompt: str = ROUTER_PROMPT, **options: Any):
        runnable: Any = chat_model
        if structured is not False:
            from rag_plugins.routing.schema import RouteChoice

            try:
                runnable = chat_model.with_structured_output(RouteChoice)
            except NotImplementedError:  # no tool calling: JSON text it is
                if structured:
                    raise
        super().__init__(runnable.invoke, timeout=timeout, prompt=prompt,
                         model=getattr(chat_model, "model_name", None) or type(chat_model).__name__, **options)


def route_tools(routed: Any, k: int = 4, routes: Sequence[str] | None = None, **options: Any) -> list[StructuredTool]:
    """One ``StructuredTool`` per route of a ``RoutedRetriever`` (``search_bm25``,
    ``search_dense``, ...), so a tool-calling agent picks the memory itself. ``options``
    go to each :class:`~rag_plugins.tools.SearchTool` (``reranker``, ``policy``, ``max_k``,
    ``pinned_filters``, ``allow_filter_operators``).

    Each returns ``content_and_artifact``: the passages as untrusted data with their
    source ids (what the model reads), and the Documents (the artifact).

    >>> tools = route_tools(RoutedRetriever(kb))               # doctest: +SKIP
    >>> agent = create_agent(model, tools)                    # doctest: +SKIP
    """
    return [langchain_tool(SearchTool(route_tool_name(r), routed.retriever_for(r), route_description(r), k=k, **options))
            for r in (routes or routed.routes)]
