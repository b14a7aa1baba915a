from rag_plugins.index.bm25 import BM25Index, BM25Params
from rag_plugins.index.faiss_vectors import VectorIndex, VectorIndexConfig
from rag_plugins.retrievers.base import BaseRetriever
from rag_plugins.retrievers.bm25 import BM25Retriever
from rag_plugins.retrievers.dense import DenseRetriever
from rag_plugins.retrievers.distinct import DistinctDocuments
from rag_plugins.retrievers.hybrid import HybridRetriever

__all__ = ["BaseRetriever", "BM25Index", "BM25Params", "BM25Retriever", "DenseRetriever",
           "DistinctDocuments", "HybridRetriever", "VectorIndex", "VectorIndexConfig"]
