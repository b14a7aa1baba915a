"""Knowledge graph: extraction, the networkx graph, and traversal retrieval.

Names load on first use, so a knowledge base without a graph never imports networkx or
scipy.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "EdgeWeights": "rag_plugins.graph.index",
    "Extraction": "rag_plugins.graph.extraction",
    "Extractor": "rag_plugins.graph.extraction",
    "GraphExpandedRetriever": "rag_plugins.graph.combined",
    "GraphRetriever": "rag_plugins.graph.retriever",
    "HeuristicExtractor": "rag_plugins.graph.heuristic",
    "KnowledgeGraph": "rag_plugins.graph.store",
    "LLMTripleExtractor": "rag_plugins.graph.llm",
    "Mention": "rag_plugins.graph.extraction",
    "Relation": "rag_plugins.graph.extraction",
    "TRIPLE_PROMPT": "rag_plugins.graph.llm",
    "TripleExtractor": "rag_plugins.graph.extraction",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rag_plugins.graph' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
