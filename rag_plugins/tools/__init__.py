"""Agent tools: every retriever, the router, the reranked pipeline and the iterative
engine as tools with JSON-schema specs, one dispatcher for any framework's tool calls, and
retrieved text marked as untrusted data. The LangChain and LlamaIndex adapters and the MCP
server wrap these."""

from rag_plugins.tools.passages import NO_PASSAGES, UNTRUSTED_NOTICE, escape, format_passages, read_passages
from rag_plugins.tools.research import TOOL_DESCRIPTION, TOOL_NAME, ResearchTool, format_research, format_result
from rag_plugins.tools.result import ToolResult
from rag_plugins.tools.search import SearchTool, search_result
from rag_plugins.tools.spec import ToolSpec, check_arguments, search_parameters
from rag_plugins.tools.toolkit import (
    ROUTED_DESCRIPTION, Toolkit, parse_tool_call, restrict_tools, route_description, route_tool_name, tool_call_form,
    tool_reply,
)

__all__ = [
    "NO_PASSAGES", "ROUTED_DESCRIPTION", "ResearchTool", "SearchTool", "TOOL_DESCRIPTION", "TOOL_NAME", "ToolResult",
    "ToolSpec", "Toolkit", "UNTRUSTED_NOTICE", "check_arguments", "escape", "format_passages", "format_research",
    "format_result", "parse_tool_call", "read_passages", "restrict_tools", "route_description", "route_tool_name",
    "search_parameters", "search_result", "tool_call_form", "tool_reply",
]
