"""Query routing for LlamaIndex: an LLM as the router, the decision as an
instrumentation event, and one ``FunctionTool`` per route for agents."""

from __future__ import annotations

from typing import Any, Sequence

from llama_index.core.llms import LLM
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from llama_index.retrievers.rag_plugins.events import RouteDecisionEvent
from llama_index.retrievers.rag_plugins.tools import llama_index_tool

from rag_plugins.routing.llm import ROUTER_PROMPT, LLMRouter
from rag_plugins.tools import SearchTool, route_description, route_tool_name


class LLMRouterForLlamaIndex(LLMRouter):
    """An :class:`~rag_plugins.routing.LLMRouter` asking a LlamaIndex LLM.

    Function-calling LLMs answer through ``structured_predict`` (a ``RouteChoice``); the
    others complete the prompt as JSON. A timeout, an error or an invalid answer falls back
    to the rule router, and the decision says why::

        from llama_index.llms.openai import OpenAI
        router = LLMRouterForLlamaIndex(OpenAI(model="gpt-4o-mini"), timeout=5)
    """

    def __init__(self, llm: LLM, *, structured: bool | None = None, timeout: float = 10.0,
                 prompt: str = ROUTER_PROMPT, **options: Any):
        if structured is None:
            structured = bool(getattr(llm.metadata, "is_function_calling_model", False))
        if structured:
            from rag_plugins.routing.schema import RouteChoice

            template = PromptTemplate("{request}")

            def predict(text: str) -> Any:
                return llm.structured_predict(RouteChoice, template, request=text)
        else:
            def predict(text: str) -> Any:
                return llm.complete(text).text

        name = getattr(llm.metadata, "model_name", None) or type(llm).__name__
        super().__init__(predict, timeout=timeout, prompt=prompt, model=str(name), **options)


def route_tools(routed: Any, k: int = 4, routes: Sequence[str] | None = None, **options: Any) -> list[FunctionTool]:
    """One ``FunctionTool`` per route of a ``RoutedRetriever`` (``search_bm25``, ...), so an
    agent picks the memory itself. The model reads the passages as untrusted data with
    source ids; ``raw_output`` holds the nodes. ``options`` go to each
    :class:`~rag_plugins.tools.SearchTool` (``reranker``, ``policy``, ``max_k``,
    ``pinned_filters``, ``allow_filter_operators``).
    """
    return [llama_index_tool(SearchTool(route_tool_name(r), routed.retriever_for(r), route_description(r), k=k,
                                        **options))
            for r in (routes or routed.routes)]


__all__ = ["LLMRouterForLlamaIndex", "RouteDecisionEvent", "route_tools"]
