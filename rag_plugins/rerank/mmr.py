"""Maximal marginal relevance: trade relevance for diversity among the hits kept."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from rag_plugins._validation import check_k, check_number, check_query
from rag_plugins.errors import InvalidInputError
from rag_plugins.rerank.hits import check_hits, with_score
from rag_plugins.types import Hit

RELEVANCE = ("similarity", "score")


def mmr_order(
    relevance: np.ndarray, similarity: np.ndarray, lambda_: float, top_n: int
) -> tuple[list[int], list[float]]:
    """Greedy MMR: pick ``argmax lambda*rel(d) - (1-lambda)*max_{s in picked} sim(d, s)``.

    Returns the picked indices and each one's objective when picked (non-increasing).

    >>> sim = np.array([[1, .99, 0], [.99, 1, 0], [0, 0, 1]])
    >>> mmr_order(np.array([1.0, 0.9, 0.5]), sim, 0.5, 2)
    ([0, 2], [0.5, 0.25])
    """
    n = len(relevance)
    picked: list[int] = []
    gains: list[float] = []
    redundancy = np.zeros(n)  # max similarity to anything picked; nothing picked yet
    available = np.ones(n, dtype=bool)
    for step in range(min(top_n, n)):
        gain = lambda_ * relevance - (1.0 - lambda_) * redundancy
        gain[~available] = -np.inf
        best = int(np.argmax(gain))
        picked.append(best)
        gains.append(float(gain[best]))
        available[best] = False
        redundancy = similarity[best] if step == 0 else np.maximum(redundancy, similarity[best])
    return picked, gains


class MMRReranker:
    """Drop near-duplicate chunks: reorder hits by maximal marginal relevance on embeddings.

    ``embeddings`` is a :class:`~rag_plugins.KnowledgeBase` (its stored chunk vectors are
    reused, nothing is re-encoded) or any :class:`~rag_plugins.Embedder`. ``lambda_`` = 1 is
    pure relevance, 0 pure diversity. Relevance is the query–chunk cosine similarity
    (``relevance="similarity"``, classic MMR) or the hits' incoming scores min-max scaled
    to [0, 1] (``relevance="score"``: keep a cross-encoder's judgement, add diversity).
    The MMR objective lands in ``scores[name]``; earlier scores and ranks are kept.

    >>> from rag_plugins import KnowledgeBase
    >>> kb = KnowledgeBase.open("my-kb")  # doctest: +SKIP
    >>> mmr = MMRReranker(kb, lambda_=0.7)  # doctest: +SKIP
    >>> mmr.rerank("solar panels", kb.dense_retriever().retrieve("solar panels", k=20), top_n=5)  # doctest: +SKIP
    """

    def __init__(self, embeddings: Any, lambda_: float = 0.5, relevance: str = "similarity", name: str = "mmr"):
        check_number(lambda_, "lambda_", 0.0, 1.0)
        if relevance not in RELEVANCE:
            raise InvalidInputError(f"relevance must be one of {RELEVANCE}, got {relevance!r}")
        if not (hasattr(embeddings, "chunk_embeddings") or hasattr(embeddings, "embed_documents")):
            raise InvalidInputError(
                "embeddings must be a KnowledgeBase built with an embedder, or an Embedder "
                f"(with embed_documents/embed_queries); got {type(embeddings).__name__}"
            )
        self.embeddings = embeddings
        self.lambda_ = float(lambda_)
        self.relevance = relevance
        self.name = name

    def _vectors(self, hits: list[Hit]) -> np.ndarray:
        source = self.embeddings
        if hasattr(source, "chunk_embeddings"):
            vecs = source.chunk_embeddings([h.chunk for h in hits])
        else:
            vecs = np.asarray(source.embed_documents([h.chunk.contextual_text for h in hits]), dtype=np.float32)
        return _unit(vecs)

    def rerank(self, query: str, hits: Sequence[Hit], top_n: int | None = None) -> list[Hit]:
        check_query(query)
        hits = check_hits(hits)
        top_n = len(hits) if top_n is None else check_k(top_n, "top_n")
        if not hits:
            return []
        docs = self._vectors(hits)
        if self.relevance == "similarity":
            relevance = docs @ _unit(np.asarray(self.embeddings.embed_queries([query]), dtype=np.float32))[0]
        else:
            scores = np.array([h.score for h in hits], dtype=np.float64)
            spread = scores.max() - scores.min()
            relevance = (scores - scores.min()) / spread if spread > 0 else np.ones(len(hits))
        order, gains = mmr_order(relevance, docs @ docs.T, self.lambda_, top_n)
        return [with_score(hits[i], self.name, g, rank) for rank, (i, g) in enumerate(zip(order, gains), start=1)]


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)
