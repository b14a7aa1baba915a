"""rag-plugins tools as LangChain ``StructuredTool``s: typed arguments, and
``content_and_artifact`` output (the passages as marked data for the model, the
Documents as the artifact)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from langchain_core.documents import Document
from langchain_core.tools import StructuredTool, ToolException

from langchain_rag_plugins.convert import hit_to_document
from rag_plugins.errors import RagPluginsError
from rag_plugins.tools import ResearchTool, SearchTool, Toolkit, ToolResult, restrict_tools
from rag_plugins.tools.schema_model import args_model


def langchain_tool(tool: SearchTool | ResearchTool) -> StructuredTool:
    """One rag-plugins tool as a ``StructuredTool``.

    A refused call (a k out of range, an unknown route or filter field) becomes a
    ``ToolException`` whose message goes back to the model, so the agent can correct it.
    """

    def artifact(result: ToolResult) -> tuple[str, list[Document]]:
        extra = {"tool": tool.name, **result.hit_metadata()}
        return result.content, [hit_to_document(h, extra) for h in result.hits]

    def run(**arguments: Any) -> tuple[str, list[Document]]:
        try:
            return artifact(tool.run(arguments))
        except RagPluginsError as exc:
            raise ToolException(str(exc)) from exc

    async def arun(**arguments: Any) -> tuple[str, list[Document]]:
        try:
            return artifact(await tool.arun(arguments))
        except RagPluginsError as exc:
            raise ToolException(str(exc)) from exc

    return StructuredTool.from_function(
        func=run, coroutine=arun, name=tool.name, description=tool.spec.description,
        args_schema=args_model(tool.spec), response_format="content_and_artifact",
        handle_tool_error=True, handle_validation_error=_validation_message,
    )


def as_langchain_tools(toolkit: Toolkit | Sequence[SearchTool | ResearchTool], *,
                       pinned_filters: Mapping[str, Any] | None = None,
                       allow_filter_operators: bool | None = None) -> list[StructuredTool]:
    """Every tool of a :class:`~rag_plugins.tools.Toolkit` as a ``StructuredTool``;
    ``pinned_filters`` apply to every search and the model's filters can only narrow
    them (equality only unless ``allow_filter_operators``).

    Example:
        .. code-block:: python

            from langchain.agents import create_agent
            from rag_plugins.tools import Toolkit
            from langchain_rag_plugins import as_langchain_tools

            tools = as_langchain_tools(Toolkit.from_knowledge_base(kb))  # search, search_bm25, ...
            agent = create_agent(model, tools)
            tenant_tools = as_langchain_tools(Toolkit.from_knowledge_base(kb), pinned_filters={"tenant": "A"})
    """
    return [langchain_tool(tool) for tool in restrict_tools(list(toolkit), pinned_filters, allow_filter_operators)]


def _validation_message(error: Exception) -> str:
    """What the model reads when its arguments fail the schema: each field and why."""
    errors = getattr(error, "errors", None)
    if not callable(errors):
        return f"Error: invalid arguments: {error}"
    parts = [f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']} (got {e.get('input')!r})" for e in errors()]
    return "Error: invalid arguments; " + "; ".join(parts) + ". Fix them and call the tool again."
