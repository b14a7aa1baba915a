"""Query routing for LangChain: a chat model as the router, and one tool per route for
agents that pick the route themselves."""

from __future__ import annotations

from typing import Any, Sequence

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from langchain_rag_plugins.convert import hit_to_document
from rag_plugins.routing.llm import ROUTER_PROMPT, LLMRouter
from rag_plugins.routing.tools import format_hits, route_tool_specs

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


class RouteQuery(BaseModel):
    query: str = Field(description="what to search for, as a standalone search query")
    k: int = Field(default=4, ge=1, le=50, description="how many passages to return")


def route_tools(routed: Any, k: int = 4, routes: Sequence[str] | None = None) -> list[StructuredTool]:
    """One ``StructuredTool`` per route of a ``RoutedRetriever`` (``search_bm25``,
    ``search_dense``, ...), so a tool-calling agent picks the memory itself.

    Each returns ``content_and_artifact``: the passages as text marked as retrieved data
    with their source ids (what the model reads), and the Documents (the artifact).

    >>> tools = route_tools(RoutedRetriever(kb))               # doctest: +SKIP
    >>> agent = create_agent(model, tools)                    # doctest: +SKIP
    """
    tools = []
    for spec in route_tool_specs(routes or routed.routes):
        retriever = routed.retriever_for(spec.route)

        def search(query: str, k: int = k, _retriever: Any = retriever) -> tuple[str, list[Document]]:
            hits = _retriever.retrieve(query, k=k)
            return format_hits(hits), [hit_to_document(h) for h in hits]

        async def asearch(query: str, k: int = k, _retriever: Any = retriever) -> tuple[str, list[Document]]:
            hits = await _retriever.aretrieve(query, k=k)
            return format_hits(hits), [hit_to_document(h) for h in hits]

        tools.append(StructuredTool.from_function(
            func=search, coroutine=asearch, name=spec.name, description=spec.description,
            args_schema=RouteQuery, response_format="content_and_artifact",
        ))
    return tools
