"""Choose the hybrid fusion default on the training data (never a test split).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/tune_fusion.py

One default serves every corpus, so each of the 44 settings is scored on both training sets
the benchmarks have: SciFact train (809 claims) and the HotpotQA tuning half (the 150
questions of ../shared/data/mixed train). The default is the setting with the best mean
nDCG@10 over the two; each set's own ranking is printed as well.
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
from hotpotqa_graph import DATA as SHARED, open_kb as open_hotpotqa_kb, split_halves  # noqa: E402
from scifact import DATA, WORK, model_path  # noqa: E402

from rag_plugins import HybridRetriever, KnowledgeBase  # noqa: E402
from rag_plugins.eval.beir import load_beir  # noqa: E402
from rag_plugins.eval.runner import evaluate_run, run_queries  # noqa: E402

DEPTH = 300  # the candidate depth the SciFact test evaluation uses


class Cached:
    """Replays one retriever's batched results so each setting costs only the fusion."""

    def __init__(self, retriever, queries, depth):
        self.name, self.score_floor = retriever.name, getattr(retriever, "score_floor", None)
        self.unreturned_at_floor = getattr(retriever, "unreturned_at_floor", False)
        self.results = dict(zip(queries, retriever.batch_retrieve(queries, k=depth)))

    def batch_retrieve(self, queries, k, filters=None):
        return [self.results[q][:k] for q in queries]


def settings():
    for method, rrf_k, w in itertools.product(["rrf", "relative_score", "zscore", "convex"], [10, 30, 60, 100],
                                              [0.5, 0.7, 1.0, 1.5, 2.0]):
        if method == "rrf" or rrf_k == 60:
            yield method, rrf_k, w


def grid(kb: KnowledgeBase, dataset) -> tuple[dict, list]:
    """nDCG@10 of every setting on ``dataset``, and the cached sources."""
    queries = list(dataset.queries.values())
    sources = [Cached(kb.bm25_retriever(), queries, DEPTH), Cached(kb.dense_retriever(), queries, DEPTH)]
    scores = {}
    for method, rrf_k, w in settings():
        hybrid = HybridRetriever(sources, method=method, rrf_k=rrf_k, weights={"bm25": w, "dense": 1.0},
                                 candidate_k=DEPTH)
        run, _ = run_queries(hybrid, dataset, k=100, show_progress=False)
        scores[(method, rrf_k, w)] = evaluate_run(run, dataset, cutoffs=(10,))["ndcg@10"]
    return scores, sources


def describe(setting) -> str:
    method, rrf_k, w = setting
    return f"method={method}" + (f" rrf_k={rrf_k}" if method == "rrf" else "") + f" bm25_weight={w} dense_weight=1.0"


def main() -> None:
    train = load_beir(DATA, "train")
    kb = KnowledgeBase.open(WORK, embedder=model_path(), chunk_size=512)
    kb.upsert(train.corpus)
    kb.commit()
    scifact, sources = grid(kb, train)
    hotpotqa_dev = load_beir(SHARED / "hotpotqa", "dev")
    tuning = split_halves(SHARED, hotpotqa_dev)["tuning half"]
    hotpotqa, _ = grid(open_hotpotqa_kb(hotpotqa_dev), tuning)

    for label, scores in (("SciFact train", scifact), ("HotpotQA tuning half", hotpotqa)):
        print(f"{label}, top 5 by nDCG@10:")
        for setting in sorted(scores, key=scores.get, reverse=True)[:5]:
            print(f"  {scores[setting]:.4f}  {describe(setting)}")
    pooled = {s: (scifact[s] + hotpotqa[s]) / 2 for s in scifact}
    print("Mean of the two, top 10 (the first is the default):")
    for setting in sorted(pooled, key=pooled.get, reverse=True)[:10]:
        print(f"  {pooled[setting]:.4f}  (SciFact {scifact[setting]:.4f}, HotpotQA {hotpotqa[setting]:.4f})  "
              f"{describe(setting)}")

    # relative score and z-score normalise a BM25 list that ran out of matches with the unreturned
    # candidates at BM25's floor (0); without that
    plain = [copy.copy(source) for source in sources]
    for source in plain:
        source.unreturned_at_floor = False
    short = sum(len(hits) < DEPTH for hits in sources[0].results.values())
    for method, w in (("relative_score", 1.0), ("zscore", 2.0)):
        hybrid = HybridRetriever(plain, method=method, weights={"bm25": w, "dense": 1.0}, candidate_k=DEPTH)
        run, _ = run_queries(hybrid, train, k=100, show_progress=False)
        print(f"SciFact train nDCG@10 {evaluate_run(run, train, cutoffs=(10,))['ndcg@10']:.4f}  method={method} "
              f"bm25_weight={w}, without the floor ({short} of {len(train.queries)} BM25 lists shorter than the depth)")

if __name__ == "__main__":
    main()
