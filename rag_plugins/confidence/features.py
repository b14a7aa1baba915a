"""Signals of whether retrieval found something, computed from one query's ranked hits."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from rag_plugins.types import Hit

FEATURES = ("top_score", "margin", "agreement", "dispersion", "top_gap")


def confidence_features(hits: Sequence[Hit], sources: Sequence[str] | None = None, depth: int = 10) -> np.ndarray:
    """The feature vector the confidence model reads (order: :data:`FEATURES`).

    - ``top_score``: the first hit's score (the reranker's logit when reranked).
    - ``margin``: first minus second score; a clear winner is a good sign.
    - ``agreement``: the share of first-stage ``sources`` that also rank the first hit
      in their own top 5 (independent retrievers agreeing is evidence).
    - ``dispersion``: standard deviation of the top ``depth`` scores; a flat list means
      nothing stands out.
    - ``top_gap``: first score minus the mean of the top ``depth``.

    ``sources`` defaults to every retriever that ranked any of the hits, except the
    final scorer (the key whose score is the hit's score on every hit); a source that did
    not return the first hit counts as disagreeing. A single retriever agrees with itself.

    >>> from rag_plugins import Chunk
    >>> hits = [Hit(Chunk(f"d{i}#0", f"d{i}", "t", 0), s, {"bm25": s}, {"bm25": i + 1}, ("bm25",))
    ...         for i, s in enumerate([5.0, 2.0, 1.0])]
    >>> confidence_features(hits).round(3).tolist()
    [5.0, 3.0, 1.0, 1.7, 2.333]
    """
    if not hits:
        return np.zeros(len(FEATURES))
    scores = np.array([h.score for h in hits[:depth]], dtype=np.float64)
    top = hits[0]
    if sources is None:
        sources = _first_stage_sources(hits)
    agreement = float(np.mean([top.ranks.get(s, 10**9) <= 5 for s in sources])) if sources else 0.0
    margin = float(scores[0] - scores[1]) if len(scores) > 1 else 0.0
    return np.array([scores[0], margin, agreement, float(scores.std()), float(scores[0] - scores.mean())])


def _first_stage_sources(hits: Sequence[Hit]) -> list[str]:
    seen = list(dict.fromkeys(name for h in hits for name in h.ranks))
    final = {name for name in seen if all(h.scores.get(name) == h.score for h in hits)}
    return [name for name in seen if name not in final] or seen
