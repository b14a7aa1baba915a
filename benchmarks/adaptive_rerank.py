"""SciFact test: rerank only when it pays. The first stage's calibrated confidence sets how
many of its candidates the cross-encoder reads (``AdaptiveDepth``); the cost/quality curve
of fixed depths beside it, and the time and p50 latency of the reranked pipeline on CPU.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/adaptive_rerank.py [--reranker PATH]

It needs the knowledge base of benchmarks/scifact.py and a reranker trained as
benchmarks/scifact_rerank.py describes (default: the third run; ``--reranker`` names another).
Everything is chosen on SciFact train: the first-stage confidence is fitted on the 80% of train
queries the reranker was trained on, the blend and the policy on the held-out 20% (hash seed
13), where the cross-encoder's scores for all 100 candidates are computed once and every
policy is replayed through the real ``RerankedRetriever`` and ``ScoreBlend`` with those scores.
Test is run once per pipeline with the real cross-encoder, timed against full reranking in
the same process.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAG_PLUGINS_PROGRESS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scifact import DATA, HERE, RELATIVE_SCORE as FUSION, WORK, model_path  # noqa: E402
from scifact_rerank import HOLDOUT, RERANKER, SEED, TOP, blend_grid  # noqa: E402

import numpy as np  # noqa: E402

from rag_plugins import KnowledgeBase  # noqa: E402
from rag_plugins.confidence import ConfidenceEstimator  # noqa: E402
from rag_plugins.eval.beir import held_out, load_beir, subset  # noqa: E402
from rag_plugins.eval.calibration import relevant_in_top_k  # noqa: E402
from rag_plugins.eval.runner import documents_in_order, evaluate_run, latency_summary  # noqa: E402
from rag_plugins.rerank import AdaptiveDepth, CrossEncoderReranker, RerankedRetriever, ScoreBlend  # noqa: E402
from rag_plugins.rerank.hits import rescored  # noqa: E402
from rag_plugins.retrievers.base import BaseRetriever  # noqa: E402

DEPTH, TOLERANCE = 100, 0.002
FIXED_DEPTHS = (0, 5, 10, 20, 30, 50, 100)
GRID = {"confident_above": (0.7, 0.8, 0.9, 0.95), "confident_depth": (0, 5, 10, 20),
        "unsure_below": (0.0, 0.3, 0.5, 0.7), "unsure_depth": (50, 100), "depth": (10, 20, 30, 50)}


class Replayed(BaseRetriever):
    """The first stage's hits for each query, as recorded."""

    name = "hybrid"

    def __init__(self, hits_by_text: dict[str, list]):
        self.hits_by_text = hits_by_text

    def _retrieve(self, query, k, filters):
        return self.hits_by_text[query][:k]


class ReplayedScores:
    """The cross-encoder's recorded scores; counts the pairs a pipeline asks it for."""

    name = "rerank"

    def __init__(self, scores: dict[tuple[str, str], float]):
        self.scores, self.pairs = scores, 0

    def batch_rerank(self, queries, hits, top_n=None):
        self.pairs += sum(len(h) for h in hits)
        return [rescored(list(hs), np.array([self.scores[(q, h.chunk.id)] for h in hs]), self.name, top_n)
                for q, hs in zip(queries, hits)]

    def rerank(self, query, hits, top_n=None):
        return self.batch_rerank([query], [hits], top_n)[0]


def pipeline(first_stage, reranker, blend: dict | None, adaptive: AdaptiveDepth | None = None):
    reranked = RerankedRetriever(first_stage, reranker, adaptive=adaptive, depth=None if adaptive else DEPTH)
    return RerankedRetriever(reranked, ScoreBlend(blend), depth=DEPTH) if blend else reranked


def run(retriever, dataset, batch_size: int = 16) -> tuple[dict, dict, float]:
    """Run, hits and seconds of a batched pass over the split (the way `eval` runs it)."""
    qids, hits = list(dataset.queries), {}
    t0 = time.perf_counter()
    for i in range(0, len(qids), batch_size):
        batch = qids[i : i + batch_size]
        for qid, found in zip(batch, retriever.batch_retrieve([dataset.queries[q] for q in batch], k=DEPTH)):
            hits[qid] = found
    seconds = time.perf_counter() - t0
    return {q: documents_in_order(h, DEPTH) for q, h in hits.items()}, hits, seconds


def ndcg(run_: dict, dataset) -> float:
    return evaluate_run(run_, dataset, cutoffs=(10,))["ndcg@10"]


def replay(first: dict, scores: dict, dataset, blend: dict | None, adaptive: AdaptiveDepth | None) -> dict:
    texts = {dataset.queries[q]: h for q, h in first.items()}
    counted = ReplayedScores(scores)
    run_, _, _ = run(pipeline(Replayed(texts), counted, blend, adaptive), dataset)
    return {"ndcg@10": ndcg(run_, dataset), "mean_pairs": counted.pairs / len(dataset.queries)}


def fixed(depth: int, estimator) -> AdaptiveDepth:
    return AdaptiveDepth(estimator, confident_above=1.0, confident_depth=depth, unsure_below=0.0,
                         unsure_depth=depth, depth=depth)


def policies(estimator):
    for values in itertools.product(*GRID.values()):
        options = dict(zip(GRID, values))
        if options["unsure_below"] <= options["confident_above"] and (
                options["confident_depth"] <= options["depth"] <= options["unsure_depth"]):
            yield options, AdaptiveDepth(estimator, **options)


def recorded_scores(hits: dict, dataset) -> dict[tuple[str, str], float]:
    return {(dataset.queries[q], h.chunk.id): h.scores["rerank"] for q, found in hits.items() for h in found}


def one_at_a_time(retriever, dataset, n: int) -> dict:
    latencies = []
    for qid in list(dataset.queries)[:n]:
        t0 = time.perf_counter()
        retriever.retrieve(dataset.queries[qid], k=10)
        latencies.append(time.perf_counter() - t0)
    return {**latency_summary(latencies), "queries": len(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--reranker", default=str(RERANKER))
    parser.add_argument("--max-length", type=int, default=256, help="the length the reranker was trained at")
    parser.add_argument("--latency-queries", type=int, default=30)
    parser.add_argument("--output", default=str(HERE / "results" / "adaptive_rerank.json"))
    args = parser.parse_args()
    if not Path(args.reranker, "config.json").exists():
        sys.exit(f"no trained reranker at {args.reranker}; train it as benchmarks/scifact_rerank.py describes")

    test, train = load_beir(args.data, "test"), load_beir(args.data, "train")
    tuning = subset(train, {q for q in train.queries if held_out(q, HOLDOUT, SEED)})
    fitting = subset(train, {q for q in train.queries if not held_out(q, HOLDOUT, SEED)})
    kb = KnowledgeBase.open(WORK, embedder=model_path())
    if kb.upsert(test.corpus).added:
        sys.exit(f"{WORK} is not the SciFact knowledge base; run benchmarks/scifact.py first")
    hybrid = kb.hybrid_retriever(method=FUSION["method"], weights=FUSION["weights"], rrf_k=FUSION["rrf_k"])
    cross_encoder = CrossEncoderReranker(args.reranker, max_length=args.max_length)
    cross_encoder.warm_up()

    # the first stage's confidence, fitted where the reranker was trained (no reranker involved)
    _, fit_hits, _ = run(hybrid, fitting)
    labels = [relevant_in_top_k([d for d, _ in documents_in_order(fit_hits[q], TOP)], fitting.qrels.get(q, {}), TOP)
              for q in fit_hits]
    estimator = ConfidenceEstimator("platt").fit([fit_hits[q] for q in fit_hits], labels,
                                                 metadata={"top_k": TOP, "pipeline": "relative-score hybrid",
                                                           "split": "scifact train, the 80% the reranker saw"})
    estimator.save(WORK / "first-stage-confidence-scifact.json")

    # tuning: every candidate scored once, then blends and policies replayed
    _, tune_first, _ = run(hybrid, tuning)
    _, tune_full, _ = run(pipeline(hybrid, cross_encoder, None), tuning)
    tune_scores = recorded_scores(tune_full, tuning)
    blends = {name: spec[1] for name, spec in blend_grid().items() if spec[0] == "sources"}
    blend_dev = {name: replay(tune_first, tune_scores, tuning, weights, fixed(DEPTH, estimator))["ndcg@10"]
                 for name, weights in blends.items()}
    blend_name = max(blend_dev, key=blend_dev.get)
    blend = blends[blend_name]
    print(f"blend chosen on the held-out train queries: {blend_name} ({blend_dev[blend_name]:.4f})", flush=True)
    tune_curve = {d: replay(tune_first, tune_scores, tuning, blend, fixed(d, estimator)) for d in FIXED_DEPTHS}
    target = tune_curve[DEPTH]["ndcg@10"] - TOLERANCE
    tried = []
    for options, policy in policies(estimator):
        tried.append({**options, **replay(tune_first, tune_scores, tuning, blend, policy)})
    eligible = [t for t in tried if t["ndcg@10"] >= target] or tried
    chosen = min(eligible, key=lambda t: (t["mean_pairs"], -t["ndcg@10"]))
    options = {k: chosen[k] for k in GRID}
    print(f"policy chosen on the held-out train queries: {options} "
          f"(nDCG@10 {chosen['ndcg@10']:.4f} vs full {tune_curve[DEPTH]['ndcg@10']:.4f}, "
          f"{chosen['mean_pairs']:.1f} pairs per query)", flush=True)
    policy = AdaptiveDepth(estimator, **options)

    # test, once per pipeline, with the real cross-encoder, in one process
    base_run, test_first, hybrid_s = run(hybrid, test)
    full_run, full_hits, full_s = run(pipeline(hybrid, cross_encoder, blend), test)
    adaptive_run, adaptive_hits, adaptive_s = run(pipeline(hybrid, cross_encoder, blend, policy), test)
    test_scores = recorded_scores(full_hits, test)
    curve = {d: replay(test_first, test_scores, test, blend, fixed(d, estimator)) for d in FIXED_DEPTHS}
    depths = [found[0].evidence["adaptive_rerank"]["depth"] for found in adaptive_hits.values()
              if found and "adaptive_rerank" in found[0].evidence]
    n = len(test.queries)
    quality = {"hybrid": ndcg(base_run, test), "full rerank (100)": ndcg(full_run, test),
               "adaptive": ndcg(adaptive_run, test)}
    rerank_s = {"full": (full_s - hybrid_s) / n, "adaptive": (adaptive_s - hybrid_s) / n}
    latency = {"hybrid": one_at_a_time(hybrid, test, args.latency_queries),
               "full rerank (100)": one_at_a_time(pipeline(hybrid, cross_encoder, blend), test, args.latency_queries),
               "adaptive": one_at_a_time(pipeline(hybrid, cross_encoder, blend, policy), test, args.latency_queries)}
    kb.close()
    gain = {name: quality[name] - quality["hybrid"] for name in ("full rerank (100)", "adaptive")}
    results = {
        "dataset": "scifact test", "queries": n, "reranker": args.reranker, "max_length": args.max_length,
        "first_stage": {"fusion": FUSION, "confidence_fitted_on": f"{len(labels)} scifact train queries"},
        "blend": blend, "blend_selection_on_heldout_train_ndcg@10": blend_dev,
        "policy": options, "tolerance": TOLERANCE, "tuning_curve": tune_curve, "tuning_chosen": chosen,
        "tuning_tried": len(tried), "quality": quality, "gain_over_hybrid": gain,
        "gain_ratio": gain["adaptive"] / gain["full rerank (100)"] if gain["full rerank (100)"] else None,
        "test_curve_replayed": curve, "mean_depth": statistics.mean(depths) if depths else 0.0,
        "depth_share": {str(d): depths.count(d) / len(depths) for d in sorted(set(depths))} if depths else {},
        "seconds": {"hybrid": hybrid_s, "full": full_s, "adaptive": adaptive_s},
        "mean_rerank_seconds_per_query": rerank_s, "rerank_time_ratio": rerank_s["adaptive"] / rerank_s["full"],
        "one_at_a_time": latency,
    }
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    print("| pipeline | nDCG@10 | gain over hybrid | mean pairs read | mean rerank time / query | p50 one at a time |")
    print("|---|---|---|---|---|---|")
    rows = (("hybrid", 0.0, None, "hybrid"), ("full rerank (100)", DEPTH, rerank_s["full"], "full rerank (100)"),
            ("adaptive", results["mean_depth"], rerank_s["adaptive"], "adaptive"))
    for name, pairs, seconds, key in rows:
        print(f"| {name} | {quality[name]:.3f} | {quality[name] - quality['hybrid']:+.3f} | {pairs:.1f} | "
              f"{'-' if seconds is None else f'{seconds * 1000:.0f} ms'} | {latency[key]['p50_ms']:.0f} ms |")
    print(f"\nadaptive / full: gain ×{results['gain_ratio']:.2f}, rerank time ×{results['rerank_time_ratio']:.2f}")
    print("\nfixed depths on test (replayed from the recorded scores):")
    for d, m in curve.items():
        print(f"  depth {d:3d}: nDCG@10 {m['ndcg@10']:.3f}, {m['mean_pairs']:.0f} pairs")


if __name__ == "__main__":
    main()
