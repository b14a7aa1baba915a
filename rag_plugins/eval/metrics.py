"""Ranking metrics over qrels, with BEIR/pytrec_eval conventions.

``run`` maps a query id to document ids in rank order; ``qrels`` maps a query id to
``{doc_id: relevance}``. Documents with relevance <= 0 are not relevant.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

Run = Mapping[str, Sequence[str]]
Qrels = Mapping[str, Mapping[str, int]]


def _relevant(judged: Mapping[str, int]) -> set[str]:
    return {d for d, r in judged.items() if r > 0}


def ndcg_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """Linear gains (as pytrec_eval's ndcg_cut).

    >>> ndcg_at_k(["a", "b"], {"b": 1}, 10)
    0.6309297535714575
    """
    dcg = sum(judged.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if judged.get(d, 0) > 0)
    ideal = sorted((r for r in judged.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    relevant = _relevant(judged)
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def recall_all_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """1 if every relevant document is in the top k (multi-hop: all evidence found)."""
    relevant = _relevant(judged)
    return float(bool(relevant) and relevant <= set(ranked[:k]))


def mrr_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    relevant = _relevant(judged)
    for i, d in enumerate(ranked[:k]):
        if d in relevant:
            return 1.0 / (i + 1)
    return 0.0


def map_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """Average precision over the top k, divided by all relevant documents (map_cut)."""
    relevant = _relevant(judged)
    if not relevant:
        return 0.0
    hits, total = 0, 0.0
    for i, d in enumerate(ranked[:k]):
        if d in relevant:
            hits += 1
            total += hits / (i + 1)
    return total / len(relevant)


METRICS = {"ndcg": ndcg_at_k, "recall": recall_at_k, "recall_all": recall_all_at_k,
           "mrr": mrr_at_k, "map": map_at_k}


def evaluate(run: Run, qrels: Qrels, cutoffs: Sequence[int] = (1, 5, 10, 100)) -> dict[str, float]:
    """Mean of every metric at every cutoff over the queries in ``qrels``.

    A query missing from ``run`` scores 0 (it was not answered).

    >>> evaluate({"q": ["a", "b"]}, {"q": {"b": 1}}, cutoffs=(1,))["recall@1"]
    0.0
    """
    queries = [q for q in qrels if _relevant(qrels[q])]
    out: dict[str, float] = {}
    for name, fn in METRICS.items():
        for k in cutoffs:
            values = [fn(list(run.get(q, ())), qrels[q], k) for q in queries]
            out[f"{name}@{k}"] = sum(values) / len(values) if values else 0.0
    return out
