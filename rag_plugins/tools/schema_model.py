"""A tool's JSON-schema arguments as a pydantic model: the typed ``args_schema`` that
LangChain tools and the ``fn_schema`` that LlamaIndex tools take. pydantic comes with
either framework; the core itself does not need it."""

from __future__ import annotations

from typing import Any, Literal

from rag_plugins._deps import require
from rag_plugins.tools.spec import ToolSpec

_TYPES: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool, "object": dict[str, Any]}


def args_model(spec: ToolSpec) -> type:
    """A pydantic model with one field per argument: types, defaults, bounds, enums
    (as ``Literal``) and descriptions carried over.

    >>> from rag_plugins.tools.spec import search_parameters
    >>> model = args_model(ToolSpec("search_bm25", "", search_parameters(4, 20, ("bm25",))))
    >>> model.__name__, model(query="pears").k, model.model_json_schema()["properties"]["route"]["enum"]
    ('SearchBm25Input', 4, ['auto', 'bm25'])
    """
    pydantic = require("pydantic", "typed tool arguments")
    required = set(spec.parameters.get("required", ()))
    fields: dict[str, Any] = {}
    for name, prop in spec.parameters.get("properties", {}).items():
        annotation: Any = Literal[tuple(prop["enum"])] if "enum" in prop else _TYPES[prop.get("type", "string")]
        bounds = {key: prop[src] for key, src in (("min_length", "minLength"), ("ge", "minimum"), ("le", "maximum"))
                  if src in prop}
        if name in required:
            default = ...
        else:
            default = prop.get("default")
            if default is None:
                annotation = annotation | None
        fields[name] = (annotation, pydantic.Field(default, description=prop.get("description"), **bounds))
    title = "".join(part.capitalize() for part in spec.name.replace("-", "_").split("_")) + "Input"
    return pydantic.create_model(title, **fields)
