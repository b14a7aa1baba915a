from rag_plugins.retrievers.base import BaseRetriever
from rag_plugins.retrievers.bm25 import BM25Retriever
from rag_plugins.retrievers.bm25_index import BM25Index, BM25Params
from rag_plugins.retrievers.dense import DenseRetriever
from rag_plugins.retrievers.hybrid import HybridRetriever
from rag_plugins.retrievers.vector_index import VectorIndex, VectorIndexConfig

__all__ = ["BaseRetriever", "BM25Index", "BM25Params", "BM25Retriever", "DenseRetriever",
           "HybridRetriever", "VectorIndex", "VectorIndexConfig"]
