"""A tool as any framework describes one: a name, a description written for the model
that decides when to call it, and a JSON schema of its arguments. Arguments are checked
against that schema here, so every framework refuses the same calls with the same words."""

from __future__ import annotations

import json
import numbers
from dataclasses import dataclass, field
from typing import Any, Mapping

from rag_plugins.errors import ToolCallError

FILTERS_DESCRIPTION = (
    'Optional metadata filter, MongoDB-style: {"source": "wiki"} for equality, {"year": {"$gte": 2020}} '
    "with $eq $ne $in $nin $gt $gte $lt $lte $exists, combined with $and/$or/$not. Omit it to search everything."
)
EQUALITY_FILTERS_DESCRIPTION = (
    'Optional metadata filter: {"field": value, ...}; every pair must match (a list-valued field matches if it '
    "contains the value). Equality only: operators such as $ne, $gt or $or are refused. Omit it to search everything."
)


@dataclass(frozen=True)
class ToolSpec:
    """A tool's name, description and JSON-schema ``parameters``.

    >>> spec = ToolSpec("search", "Search.", {"type": "object", "properties": {}})
    >>> spec.openai()["function"]["name"], spec.mcp()["inputSchema"]["type"]
    ('search', 'object')
    """

    name: str
    description: str
    parameters: Mapping[str, Any] = field(default_factory=dict)

    def openai(self) -> dict[str, Any]:
        """The OpenAI (and compatible: vLLM, Ollama, LiteLLM...) function-tool form."""
        return {"type": "function",
                "function": {"name": self.name, "description": self.description, "parameters": dict(self.parameters)}}

    def anthropic(self) -> dict[str, Any]:
        """The Anthropic Messages API tool form (``input_schema`` holds the JSON schema)."""
        return {"name": self.name, "description": self.description, "input_schema": dict(self.parameters)}

    def mcp(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "inputSchema": dict(self.parameters)}


def search_parameters(k: int, max_k: int, routes: tuple[str, ...] = (), filters: bool = True,
                      operators: bool = False) -> dict[str, Any]:
    """The arguments of a search tool: ``query``, ``k``, and ``route`` (when the tool
    routes) and ``filters`` (when the retriever takes them; described as equality only
    unless ``operators``)."""
    properties: dict[str, Any] = {
        "query": {"type": "string", "minLength": 1,
                  "description": "What to search for: a standalone search query or question."},
        "k": {"type": "integer", "minimum": 1, "maximum": max_k, "default": k,
              "description": f"How many passages to return (1 to {max_k})."},
    }
    if routes:
        properties["route"] = {
            "type": "string", "enum": ["auto", *routes], "default": "auto",
            "description": "Which retrieval to use. 'auto' lets the router choose and explains why; name a "
                           "route to force it: " + "; ".join(routes) + ".",
        }
    if filters:
        properties["filters"] = {"type": "object",
                                 "description": FILTERS_DESCRIPTION if operators else EQUALITY_FILTERS_DESCRIPTION}
    return {"type": "object", "properties": properties, "required": ["query"], "additionalProperties": False}


def check_arguments(spec: ToolSpec, arguments: Any) -> dict[str, Any]:
    """``arguments`` (a mapping, or its JSON text) checked against ``spec.parameters``,
    with defaults filled in. Raises :class:`ToolCallError` saying what to send instead.

    >>> spec = ToolSpec("s", "", search_parameters(4, 20))
    >>> check_arguments(spec, '{"query": "pears"}')
    {'query': 'pears', 'k': 4}
    >>> check_arguments(spec, {"query": "pears", "k": 99})
    Traceback (most recent call last):
    ...
    rag_plugins.errors.ToolCallError: s: k must be at most 20, got 99
    """
    if isinstance(arguments, (str, bytes)):
        try:
            arguments = json.loads(arguments or "{}")
        except json.JSONDecodeError as exc:
            raise ToolCallError(f"{spec.name}: arguments are not valid JSON ({exc}); send a JSON object") from exc
        except RecursionError:
            raise ToolCallError(f"{spec.name}: arguments nest too deeply to read; send a flat JSON object") from None
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, Mapping):
        raise ToolCallError(f"{spec.name}: arguments must be a JSON object, got {type(arguments).__name__}")
    schema = spec.parameters
    properties: Mapping[str, Any] = schema.get("properties", {})
    unknown = sorted(set(arguments) - set(properties))
    if unknown and schema.get("additionalProperties") is False:
        raise ToolCallError(f"{spec.name}: unknown argument(s) {unknown}; this tool takes {sorted(properties)}")
    missing = [name for name in schema.get("required", ()) if arguments.get(name) is None]
    if missing:
        raise ToolCallError(f"{spec.name}: missing required argument(s) {missing}")
    out: dict[str, Any] = {}
    for name, prop in properties.items():
        value = arguments.get(name)
        if value is None:
            if "default" in prop:
                out[name] = prop["default"]
            continue
        out[name] = _check_value(spec.name, name, prop, value)
    return out


def _check_value(tool: str, name: str, prop: Mapping[str, Any], value: Any) -> Any:
    kind = prop.get("type")
    if kind == "string":
        if not isinstance(value, str):
            raise ToolCallError(f"{tool}: {name} must be a string, got {type(value).__name__}")
        if len(value.strip()) < prop.get("minLength", 0):
            raise ToolCallError(f"{tool}: {name} is empty; pass some text")
    elif kind == "integer":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ToolCallError(f"{tool}: {name} must be an integer, got {value!r}")
        value = int(value)  # numpy integers too
        if "minimum" in prop and value < prop["minimum"]:
            raise ToolCallError(f"{tool}: {name} must be at least {prop['minimum']}, got {value}")
        if "maximum" in prop and value > prop["maximum"]:
            raise ToolCallError(f"{tool}: {name} must be at most {prop['maximum']}, got {value}")
    elif kind == "object" and not isinstance(value, Mapping):
        raise ToolCallError(f"{tool}: {name} must be a JSON object, got {type(value).__name__}")
    if "enum" in prop and value not in prop["enum"]:
        raise ToolCallError(f"{tool}: {name} must be one of {list(prop['enum'])}, got {value!r}")
    return value
