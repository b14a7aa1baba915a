"""rag-plugins: production retrieval for LangChain and LlamaIndex users.

The core imports no framework; adapters live in the ``integrations/`` distributions.
"""

from rag_plugins.chunking import StructureAwareChunker
from rag_plugins.errors import RagPluginsError
from rag_plugins.filter_policy import FilterPolicy
from rag_plugins.protocols import Embedder, Retriever
from rag_plugins.retrievers import (
    BM25Params,
    BM25Retriever,
    DenseRetriever,
    HybridRetriever,
    VectorIndexConfig,
)
from rag_plugins.store import KnowledgeBase
from rag_plugins import catalog as _catalog  # noqa: F401,E402  (installs the retriever catalog)
from rag_plugins.text.analysis import Analyzer
from rag_plugins.types import Chunk, Document, Hit

__version__ = "0.1.0"

__all__ = [
    "Analyzer", "BM25Params", "BM25Retriever", "Chunk", "DenseRetriever", "Document", "Embedder", "FilterPolicy",
    "Hit", "HybridRetriever", "KnowledgeBase", "RagPluginsError", "Retriever",
    "StructureAwareChunker", "VectorIndexConfig", "__version__",
]
