"""What every reranker shares: checking its input hits and building rescored copies."""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from rag_plugins.errors import InvalidInputError
from rag_plugins.types import Hit


def check_hits(hits: Sequence[Hit]) -> list[Hit]:
    if isinstance(hits, (str, bytes)) or not isinstance(hits, Sequence):
        raise InvalidInputError(f"hits must be a list of Hit, got {type(hits).__name__}")
    for h in hits:
        if not isinstance(h, Hit):
            raise InvalidInputError(f"hits must be a list of Hit, got an item of type {type(h).__name__}")
    return list(hits)


def rescored(hits: list[Hit], scores: np.ndarray, name: str, top_n: int | None) -> list[Hit]:
    """New hits ordered by ``scores`` (stable on ties), each adding ``scores[name]`` and
    ``ranks[name]`` to what it already carried."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    if top_n is not None:
        order = order[:top_n]
    return [with_score(hits[i], name, float(scores[i]), rank) for rank, i in enumerate(order.tolist(), start=1)]


def with_score(hit: Hit, name: str, score: float, rank: int) -> Hit:
    """A copy of ``hit`` scored ``score`` at ``rank`` by ``name``; earlier scores are kept."""
    return replace(hit, score=score, scores={**hit.scores, name: score}, ranks={**hit.ranks, name: rank})
