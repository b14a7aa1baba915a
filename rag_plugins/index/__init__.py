"""The index kinds a knowledge base holds, behind one :class:`~rag_plugins.index.base.Index`
protocol. Importing this package registers the built-in kinds, in the order a commit
builds them: ``bm25`` (:class:`LexicalIndex`), ``vectors`` (:class:`DenseIndex`) and
``graph`` (:class:`KnowledgeGraphIndex`)."""

from rag_plugins.index.base import INDEX_KINDS, Index, IndexBase, IndexChanges, IndexServices, register_index
from rag_plugins.index.lexical import LexicalIndex  # isort: skip (registration order)
from rag_plugins.index.dense import DenseIndex  # isort: skip
from rag_plugins.index.graph import KnowledgeGraphIndex  # isort: skip
from rag_plugins.index.bm25 import BM25Index, BM25Params
from rag_plugins.index.faiss_vectors import VectorIndex, VectorIndexConfig

__all__ = ["INDEX_KINDS", "BM25Index", "BM25Params", "DenseIndex", "Index", "IndexBase", "IndexChanges",
           "IndexServices", "KnowledgeGraphIndex", "LexicalIndex", "VectorIndex", "VectorIndexConfig",
           "register_index"]
