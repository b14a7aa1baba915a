"""What a tool call returns: the text the model reads, the hits, and a JSON-ready record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from rag_plugins.types import Hit


@dataclass(frozen=True)
class ToolResult:
    """One tool call's outcome.

    ``content`` is what the model reads (passages marked as untrusted data, see
    :mod:`rag_plugins.tools.passages`); ``hits`` are the hits themselves (a framework's
    artifact or raw output); ``data`` is the structured record: route, confidence,
    timings and each passage's ids and scores, as JSON (MCP's structured content).
    ``is_error`` marks a refused call, whose ``content`` says what to send instead.
    """

    tool: str
    content: str
    hits: list[Hit] = field(default_factory=list)
    data: Mapping[str, Any] = field(default_factory=dict)
    is_error: bool = False

    def hit_metadata(self) -> dict[str, Any]:
        """What each returned hit's framework document also carries: the route decision,
        the timings, the generations read and the confidence record, where the call had them
        (the answer's provenance stays in ``data``: each hit has its own ``provenance``)."""
        return {key: self.data[key] for key in ("route", "timings", "generations", "confidence")
                if self.data.get(key)}

    @classmethod
    def error(cls, tool: str, message: str) -> "ToolResult":
        return cls(tool, f"Error: {message}", data={"error": message}, is_error=True)
