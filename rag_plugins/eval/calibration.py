"""How good a confidence score is: AUROC, expected calibration error, risk–coverage."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def auroc(confidence: Sequence[float], labels: Sequence[int]) -> float:
    """Probability that a random success scores above a random failure (ties count half).

    >>> auroc([0.9, 0.8, 0.3, 0.1], [1, 1, 0, 0])
    1.0
    """
    c = np.asarray(confidence, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    pos, neg = c[y], c[~y]
    if not len(pos) or not len(neg):
        return float("nan")
    # 1-based ranks of all scores, ties sharing their average rank (Mann-Whitney U)
    _, inverse, counts = np.unique(np.concatenate([pos, neg]), return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2.0) / (len(pos) * len(neg)))


def expected_calibration_error(confidence: Sequence[float], labels: Sequence[int], bins: int = 10) -> float:
    """Mean |accuracy − confidence| over equal-width bins, weighted by bin size.

    >>> expected_calibration_error([0.75, 0.75, 0.75, 0.75], [1, 1, 1, 0])
    0.0
    """
    c = np.asarray(confidence, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(c, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(y[mask].mean() - c[mask].mean())
    return float(total / len(c)) if len(c) else float("nan")


def risk_coverage(confidence: Sequence[float], labels: Sequence[int],
                  coverages: Sequence[float] = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)) -> list[dict[str, float]]:
    """Answer only the most confident queries: for each coverage, the error rate (risk)
    among the answered ones, and the confidence threshold that achieves it.

    >>> risk_coverage([0.9, 0.8, 0.3, 0.1], [1, 1, 0, 1], coverages=(1.0, 0.5))
    [{'coverage': 1.0, 'risk': 0.25, 'threshold': 0.1, 'answered': 4}, {'coverage': 0.5, 'risk': 0.0, 'threshold': 0.8, 'answered': 2}]
    """
    c = np.asarray(confidence, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    order = np.argsort(-c, kind="stable")
    out = []
    for cov in coverages:
        n = max(1, int(round(cov * len(c))))
        kept = order[:n]
        out.append({"coverage": float(cov), "risk": float(1.0 - y[kept].mean()),
                    "threshold": float(c[kept].min()), "answered": int(n)})
    return out


def relevant_in_top_k(ranked_documents: Sequence[str], judged: dict[str, int], k: int) -> int:
    """1 when one of the first ``k`` documents is judged relevant: the event a retrieval
    confidence predicts.

    >>> relevant_in_top_k(["a", "b", "c"], {"c": 1}, 2), relevant_in_top_k(["a", "c"], {"c": 1}, 2)
    (0, 1)
    """
    return int(any(judged.get(d, 0) > 0 for d in ranked_documents[:k]))


def confidence_report(confidence: Sequence[float], labels: Sequence[int]) -> dict:
    """AUROC, ECE, base rate and a risk–coverage table, as the eval command writes them."""
    return {"auroc": auroc(confidence, labels), "ece": expected_calibration_error(confidence, labels),
            "success_rate": float(np.mean(labels)) if len(labels) else float("nan"),
            "mean_confidence": float(np.mean(confidence)) if len(confidence) else float("nan"),
            "risk_coverage": risk_coverage(confidence, labels)}
