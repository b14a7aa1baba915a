"""Second-stage ranking: cross-encoder rescoring, MMR diversity, and their composition
with any retriever."""

from rag_plugins.rerank.adaptive import AdaptiveDepth
from rag_plugins.rerank.blend import ScoreBlend
from rag_plugins.rerank.cross_encoder import DEFAULT_RERANK_MODEL, CrossEncoderReranker
from rag_plugins.rerank.mmr import MMRReranker
from rag_plugins.rerank.reranked import RerankedRetriever, Reranker

__all__ = ["AdaptiveDepth", "CrossEncoderReranker", "DEFAULT_RERANK_MODEL", "MMRReranker", "RerankedRetriever", "Reranker",
           "ScoreBlend"]
