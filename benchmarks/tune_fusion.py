"""Choose fusion settings on SciFact *train* (never test), for benchmarks/scifact.py.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/tune_fusion.py
"""

from __future__ import annotations

import copy
import itertools
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAG_PLUGINS_PROGRESS", "0")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scifact import DATA, WORK, model_path  # noqa: E402

from rag_plugins import HybridRetriever, KnowledgeBase  # noqa: E402
from rag_plugins.eval.beir import load_beir  # noqa: E402
from rag_plugins.eval.runner import evaluate_run, run_queries  # noqa: E402


class Cached:
    """Replays one retriever's batched results so each setting costs only the fusion."""

    def __init__(self, retriever, queries, depth):
        self.name, self.score_floor = retriever.name, getattr(retriever, "score_floor", None)
        self.unreturned_at_floor = getattr(retriever, "unreturned_at_floor", False)
        self.results = dict(zip(queries, retriever.batch_retrieve(queries, k=depth)))

    def batch_retrieve(self, queries, k, filters=None):
        return [self.results[q][:k] for q in queries]


def main() -> None:
    train = load_beir(DATA, "train")
    kb = KnowledgeBase.open(WORK, embedder=model_path(), chunk_size=512)
    kb.upsert(train.corpus)
    kb.commit()
    queries = list(train.queries.values())
    sources = [Cached(kb.bm25_retriever(), queries, 300), Cached(kb.dense_retriever(), queries, 300)]
    rows = []
    for method, rrf_k, w in itertools.product(["rrf", "relative_score", "zscore", "convex"], [10, 30, 60, 100],
                                              [0.5, 0.7, 1.0, 1.5, 2.0]):
        if method != "rrf" and rrf_k != 60:
            continue
        hybrid = HybridRetriever(sources, method=method, rrf_k=rrf_k, weights={"bm25": w, "dense": 1.0},
                                 candidate_k=300)
        run, _ = run_queries(hybrid, train, k=100, show_progress=False)
        rows.append((evaluate_run(run, train, cutoffs=(10,))["ndcg@10"], method, rrf_k, w))
    for ndcg, method, rrf_k, w in sorted(rows, reverse=True)[:10]:
        print(f"train nDCG@10 {ndcg:.4f}  method={method} rrf_k={rrf_k} bm25_weight={w} dense_weight=1.0")
    # relative score normalises a BM25 list that ran out of matches from BM25's floor (0); without that
    plain = [copy.copy(source) for source in sources]
    for source in plain:
        source.unreturned_at_floor = False
    run, _ = run_queries(HybridRetriever(plain, method="relative_score", candidate_k=300), train, k=100,
                         show_progress=False)
    short = sum(len(hits) < 300 for hits in sources[0].results.values())
    print(f"train nDCG@10 {evaluate_run(run, train, cutoffs=(10,))['ndcg@10']:.4f}  method=relative_score, plain "
          f"min-max ({short} of {len(queries)} BM25 lists shorter than the depth)")


if __name__ == "__main__":
    main()
