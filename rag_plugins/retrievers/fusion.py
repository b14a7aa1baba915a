"""Rank fusion as pure functions over ranked lists of (key, score).

Each takes ``{source: [(key, score), ...]}`` (best first) and ``{source: weight}`` and
returns ``{key: fused score}``. Weights are honoured by every method. No input makes a
fused score NaN: infinite scores rank above (+inf) or below (-inf, NaN) every finite one,
and huge magnitudes are scaled down before any sum or square can overflow.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

RankedLists = Mapping[str, Sequence[tuple[str, float]]]


def reciprocal_rank_fusion(lists: RankedLists, weights: Mapping[str, float], k: int = 60) -> dict[str, float]:
    """Weighted RRF: sum over sources of ``weight / (k + rank)``.

    >>> reciprocal_rank_fusion({"a": [("x", 9.0), ("y", 1.0)], "b": [("y", 0.7)]}, {"a": 1, "b": 2})
    {'x': 0.01639344262295082, 'y': 0.04891591750396616}
    """
    fused: dict[str, float] = {}
    for source, ranked in lists.items():
        w = weights[source]
        for rank, (key, _) in enumerate(ranked, start=1):
            fused[key] = fused.get(key, 0.0) + w / (k + rank)
    return fused


def _bounded(scores: np.ndarray, floor: float | None = None) -> tuple[np.ndarray, float | None]:
    """``scores`` (and a finite ``floor``) divided by their largest finite magnitude, so they
    lie in [-1, 1]; +inf becomes 2 and -inf or NaN -2. Order is kept, and the affine
    normalisations below do not change under the scaling.

    >>> _bounded(np.array([np.inf, 1e300, -1e300, np.nan]))[0].tolist()
    [2.0, 1.0, -1.0, -2.0]
    """
    finite = np.isfinite(scores)
    floor = floor if floor is not None and math.isfinite(floor) else None
    scale = max(float(np.abs(scores[finite]).max(initial=0.0)), abs(floor or 0.0)) or 1.0
    bounded = np.where(finite, np.where(finite, scores, 0.0) / scale, np.where(scores == np.inf, 2.0, -2.0))
    return bounded, None if floor is None else floor / scale


def _minmax(scores: np.ndarray, floor: float | None = None) -> np.ndarray:
    scores, floor = _bounded(scores, floor)
    if floor is not None:  # below the theoretical minimum (e.g. -inf) counts as the minimum
        scores = np.maximum(scores, floor)
    lo = scores.min() if floor is None else floor
    span = scores.max() - lo
    return np.ones_like(scores) if span <= 0 else (scores - lo) / span


def relative_score_fusion(lists: RankedLists, weights: Mapping[str, float],
                          floors: Mapping[str, float | None] | None = None) -> dict[str, float]:
    """Min-max normalise each list to [0, 1], then a weighted sum (missing = 0). A source
    with a floor in ``floors`` is normalised from that floor instead of its list's minimum:
    for a list that ran out of matches (BM25 returning 2 of 50 candidates, every other
    chunk scoring 0) its weakest match is still evidence, not the zero point.

    >>> relative_score_fusion({"bm25": [("a", 4.0), ("b", 3.0)]}, {"bm25": 1.0})
    {'a': 1.0, 'b': 0.0}
    >>> relative_score_fusion({"bm25": [("a", 4.0), ("b", 3.0)]}, {"bm25": 1.0}, {"bm25": 0.0})
    {'a': 1.0, 'b': 0.75}
    """
    fused: dict[str, float] = {}
    for source, ranked in lists.items():
        if not ranked:
            continue
        norm = _minmax(np.array([s for _, s in ranked], dtype=np.float64), (floors or {}).get(source))
        for (key, _), value in zip(ranked, norm):
            fused[key] = fused.get(key, 0.0) + weights[source] * float(value)
    return fused


def distribution_based_fusion(lists: RankedLists, weights: Mapping[str, float],
                              floors: Mapping[str, float | None] | None = None) -> dict[str, float]:
    """Z-score each list, then a weighted sum; a list missing a key counts its lowest z.

    A source with a floor in ``floors`` (one that ran out of matches, every other candidate
    scoring its floor) is standardised over the whole candidate pool, the union of every
    list's keys, with the keys it did not return at the floor. Its weakest match then still
    stands above the chunks it did not match, where standardising its matches among
    themselves would put one of two close matches at +1 and the other at -1.

    >>> fused = distribution_based_fusion({"bm25": [("a", 4.0), ("b", 3.9)], "dense": [("c", 0.5)]},
    ...                                   {"bm25": 1.0, "dense": 1.0})
    >>> round(fused["b"], 2)  # standardised among its own two matches
    -1.0
    >>> fused = distribution_based_fusion({"bm25": [("a", 4.0), ("b", 3.9)], "dense": [("c", 0.5)]},
    ...                                   {"bm25": 1.0, "dense": 1.0}, {"bm25": 0.0})
    >>> fused["b"] > fused["c"]
    True
    """
    pool = list(dict.fromkeys(key for ranked in lists.values() for key, _ in ranked))
    zs: dict[str, dict[str, float]] = {}
    missing: dict[str, float] = {}
    for source, ranked in lists.items():
        if not ranked:
            continue
        floor = (floors or {}).get(source)
        if floor is not None and math.isfinite(floor):
            returned = dict(ranked)
            keys = pool
            raw = np.array([returned.get(key, floor) for key in pool], dtype=np.float64)
        else:
            keys = [key for key, _ in ranked]
            raw = np.array([s for _, s in ranked], dtype=np.float64)
        scores, bounded_floor = _bounded(raw, floor)
        if bounded_floor is not None:  # below the theoretical minimum counts as the minimum
            scores = np.maximum(scores, bounded_floor)
        std = scores.std()
        z = np.zeros_like(scores) if std == 0 else (scores - scores.mean()) / std
        zs[source] = dict(zip(keys, z.tolist()))
        missing[source] = float(z.min())
    return {key: sum(weights[s] * zs[s].get(key, missing[s]) for s in zs) for key in pool}


def convex_combination(lists: RankedLists, weights: Mapping[str, float],
                       floors: Mapping[str, float | None] | None = None) -> dict[str, float]:
    """Convex combination of scores normalised with each source's theoretical minimum.

    Weights are rescaled to sum to 1. ``floors`` gives each source's lowest possible
    score (0 for BM25, -1 for cosine); with it, normalisation keeps absolute score levels
    instead of stretching every list to [0, 1] (Bruch et al., 2023, "TM2C2").
    """
    total = sum(weights[s] for s in lists) or 1.0
    fused: dict[str, float] = {}
    for source, ranked in lists.items():
        if not ranked:
            continue
        floor = (floors or {}).get(source)
        norm = _minmax(np.array([s for _, s in ranked], dtype=np.float64), floor)
        for (key, _), value in zip(ranked, norm):
            fused[key] = fused.get(key, 0.0) + weights[source] / total * float(value)
    return fused


# BM25 + dense fusion of kb.hybrid_retriever() and the CLI: of 44 settings (benchmarks/tune_fusion.py:
# RRF k 10-100, relative score, z-score, convex; BM25 weight 0.5-2.0), z-score with BM25 weighted 2
# has the best mean train nDCG@10 over SciFact train and the HotpotQA tuning half. It counts the
# chunks a short BM25 list left out at BM25's floor (benchmarks/README.md, "Choosing the fusion
# default"). HybridRetriever itself defaults to RRF, which needs no comparable scores.
HYBRID_FUSION = "zscore"
HYBRID_WEIGHTS = {"bm25": 2.0, "dense": 1.0}
"""The weights that go with :data:`HYBRID_FUSION` when none are given (other methods: equal)."""

FUSION_METHODS = {
    "rrf": reciprocal_rank_fusion,
    "relative_score": relative_score_fusion,
    "zscore": distribution_based_fusion,
    "convex": convex_combination,
}
