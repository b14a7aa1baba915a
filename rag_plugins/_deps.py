"""Optional dependencies, imported where used, with the exact install line when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from rag_plugins.errors import MissingDependencyError

# import name -> (distribution, extra that provides it)
_EXTRAS: dict[str, tuple[str, str]] = {
    "faiss": ("faiss-cpu", "dense"),
    "sentence_transformers": ("sentence-transformers", "dense"),
    "torch": ("torch", "dense"),
    "bm25s": ("bm25s", "dev"),
    "mcp": ("mcp", "mcp"),
    "pydantic": ("pydantic", "mcp"),
    "prometheus_client": ("prometheus_client", "metrics"),
    "matplotlib": ("matplotlib", "report"),
    "opentelemetry.trace": ("opentelemetry-api", "otel"),
    "onnxruntime": ("onnxruntime", "onnx"),
    "onnxruntime.quantization": ("onnx", "onnx"),
}


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` with the install line.

    >>> require("json", "reading JSON").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        dist, extra = _EXTRAS.get(module, (module, "all"))
        raise MissingDependencyError(
            f"{feature} needs the '{dist}' package, which is not installed. "
            f'Install it with: pip install "rag-plugins[{extra}]"'
        ) from exc
