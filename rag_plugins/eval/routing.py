"""How a router's choices compare with the best route for each query (the oracle).

The oracle of a judged query is the route whose own hits score the highest nDCG@k; a
query on which every route scores the same tells nothing about routing and is counted
apart. ``eval --retriever routed --report`` draws the matrix.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from rag_plugins._progress import progress_bar
from rag_plugins.eval.metrics import ndcg_at_k
from rag_plugins.eval.runner import documents_in_order
from rag_plugins.routing.training import oracle_labels
from rag_plugins.types import Hit


def chosen_route(hits: Sequence[Hit]) -> str | None:
    """The route a routed retriever chose first for these hits (from their evidence)."""
    for hit in hits:
        record = hit.evidence.get("route")
        if record and record.get("routes"):
            return next(iter(record["routes"]))
    return None


def route_confusion(routes: Mapping[str, Any], queries: Mapping[str, str], qrels: Mapping[str, Mapping[str, int]],
                    chosen: Mapping[str, str], k: int = 10, batch_size: int = 32,
                    show_progress: bool | None = None) -> dict[str, Any]:
    """Run every route on the judged queries the router decided, and tabulate.

    ``routes`` maps a route name to its retriever; ``chosen`` maps a query id to the route
    the router chose first. Returns the matrix (``matrix[oracle][chosen]`` query counts,
    over queries where the routes differ; a choice tied with the best counts as the best),
    how many queries tied, the share on which the
    router chose a best route, and the mean nDCG@k it gave up against the oracle (over all
    decided queries, ties included).

    >>> class Fixed:
    ...     def __init__(self, docs): self.docs = docs
    ...     def batch_retrieve(self, texts, k):
    ...         from rag_plugins import Chunk
    ...         return [[Hit(Chunk(f"{d}#0", d, "t", 0), 1.0) for d in self.docs] for _ in texts]
    >>> out = route_confusion({"bm25": Fixed(["a"]), "dense": Fixed(["b"])}, {"q1": "x", "q2": "y"},
    ...                       {"q1": {"a": 1}, "q2": {"b": 1}}, {"q1": "bm25", "q2": "bm25"}, show_progress=False)
    >>> out["matrix"], out["picked_a_best_route"], out["mean_ndcg_given_up"]
    ({'bm25': {'bm25': 1, 'dense': 0}, 'dense': {'bm25': 1, 'dense': 0}}, 0.5, 0.5)
    """
    names = list(routes)
    qids = [q for q in queries if qrels.get(q) and chosen.get(q) in routes]
    scores = np.zeros((len(qids), len(names)))
    with progress_bar(len(qids) * len(names), "Running every route", show=show_progress, unit="query") as bar:
        for j, name in enumerate(names):
            for start in range(0, len(qids), batch_size):
                batch = qids[start : start + batch_size]
                results = routes[name].batch_retrieve([queries[q] for q in batch], k=3 * k)
                for i, hits in enumerate(results, start=start):
                    ranked = [d for d, _ in documents_in_order(hits, k)]
                    scores[i, j] = ndcg_at_k(ranked, qrels[qids[i]], k)
                bar.update(len(batch))
    picked = np.array([names.index(chosen[q]) for q in qids], dtype=int)
    informative = scores.max(axis=1) - scores.min(axis=1) > 1e-9 if len(qids) else np.zeros(0, bool)
    got = scores[np.arange(len(qids)), picked] if len(qids) else np.zeros(0)
    best = scores.max(axis=1) if len(qids) else np.zeros(0)
    chose_a_best = got >= best - 1e-9
    # a choice tied with the best is the best: only a worse choice is off the diagonal
    labels = np.where(chose_a_best, picked, oracle_labels(scores) if len(qids) else picked)
    matrix = {o: {c: 0 for c in names} for o in names}
    for label, choice in zip(labels[informative], picked[informative]):
        matrix[names[label]][names[choice]] += 1
    hit_best = chose_a_best[informative]
    return {"routes": names, "matrix": matrix, "queries": len(qids), "informative": int(informative.sum()),
            "ties": int(len(qids) - informative.sum()),
            "picked_a_best_route": float(hit_best.mean()) if hit_best.size else None,
            "mean_ndcg_given_up": float((best - got).mean()) if len(qids) else None,
            "oracle_ndcg": float(best.mean()) if len(qids) else None, "k": k}
