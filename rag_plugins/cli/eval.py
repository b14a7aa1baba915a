"""``rag-plugins eval DATASET_DIR``: run a retriever (optionally reranked) on a BEIR split."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from rag_plugins.errors import InvalidInputError
from rag_plugins.cli.common import (
    add_graph_args, add_iterative_args, add_router_args, add_index_dir_args, add_model_args, add_rerank_args,
    add_retriever_args, dataset_kb, index_needs, innermost, make_pipeline,
)
from rag_plugins.store.settings import backend_of


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a retriever on a BEIR-layout dataset")
    p.add_argument("dataset")
    p.add_argument("--split", default="test")
    add_retriever_args(p)
    add_graph_args(p)
    add_router_args(p)
    add_iterative_args(p)
    add_index_dir_args(p)
    p.add_argument("--k", type=int, default=100, help="hits per query written to the run file (default 100)")
    p.add_argument("--batch-size", type=int, default=32, help="queries per batch")
    add_rerank_args(p)
    p.add_argument("--confidence", metavar="FILE", help="a fitted confidence file (rag-plugins calibrate): "
                   "also report its AUROC, ECE and risk-coverage on this split")
    p.add_argument("--run-file", required=True, help="TREC run file to write")
    p.add_argument("--output", required=True, help="metrics JSON to write")
    p.add_argument("--report", metavar="HTML", help="also write one page of plots: recall@k, latency, per-query "
                                                    "wins and losses against --baseline-run, router decisions and, "
                                                    "for routed, its confusion matrix against the best route per "
                                                    "query (every route is run once more), confidence reliability "
                                                    "(needs the report extra)")
    p.add_argument("--baseline-run", metavar="TREC", help="a run file to compare with in the report (another "
                                                          "eval's --run-file)")
    add_model_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rag_plugins.eval.beir import load_beir
    from rag_plugins.eval.routing import chosen_route, route_confusion
    from rag_plugins.eval.runner import EvalResult, evaluate_run, latency_summary, run_queries

    if args.baseline_run and not args.report:
        raise InvalidInputError("--baseline-run is what the report compares with; add --report FILE")
    baseline = None
    if args.baseline_run:
        from rag_plugins.eval.report import read_trec_run

        baseline = read_trec_run(args.baseline_run)
    if args.report:
        from rag_plugins.ops.html_page import pyplot

        pyplot("rag-plugins eval --report")  # a missing matplotlib fails before the run, not after
    dataset = load_beir(args.dataset, args.split)
    with dataset_kb(dataset, args, **index_needs(args.retriever, args.base)) as indexed:
        kb = indexed.kb
        estimator = None
        if args.confidence:
            from rag_plugins.confidence import ConfidenceEstimator

            estimator = ConfidenceEstimator.load(args.confidence)
        retriever = make_pipeline(kb, args)
        decisions: dict[str, int] = {}
        routed = innermost(retriever)  # under any reranking, the retriever it wraps
        if args.retriever == "routed":
            def count(query: str, decision: Any) -> None:
                key = " & ".join(decision.routes)
                decisions[key] = decisions.get(key, 0) + 1

            routed.on_decision = count
        t0 = time.perf_counter()
        estimates: dict[str, float] = {}
        chosen: dict[str, str] = {}
        rerank_depths: list[int] = []

        def record(qid: str, hits: list) -> None:
            if hits and "adaptive_rerank" in hits[0].evidence:
                rerank_depths.append(hits[0].evidence["adaptive_rerank"]["depth"])
            if estimator is not None:
                estimates[qid] = estimator.estimate(hits).value
            if args.retriever == "routed" and (route := chosen_route(hits)) is not None:
                chosen[qid] = route

        # a reranked pipeline returns exactly the candidates it reranked, one chunk per slot
        run_, latencies = run_queries(retriever, dataset, k=args.k, batch_size=args.batch_size,
                                      chunk_depth=1 if args.rerank else 3, on_hits=record)
        query_seconds = time.perf_counter() - t0
        confusion = None
        if args.retriever == "routed" and args.report:
            confusion = route_confusion({r: routed.retriever_for(r) for r in routed.routes}, dataset.queries,
                                        dataset.qrels, chosen)
        model = kb.settings["embedding"]["model_id"] if kb.settings["embedding"] else None
        backend = backend_of(kb.settings["embedding"]) if kb.settings["embedding"] else None
    metrics: dict[str, Any] = dict(evaluate_run(run_, dataset, cutoffs=sorted({1, 5, 10, args.k})))
    metrics.update(
        n_queries=len(dataset.queries),
        timings={"index_seconds": indexed.seconds, "index_reused": indexed.reused,
                 "query_seconds": query_seconds,
                 "queries_per_second": len(dataset.queries) / query_seconds if query_seconds else None,
                 "batch_size": args.batch_size, **latency_summary(latencies)},
        config={"dataset": str(args.dataset), "split": args.split, "retriever": args.retriever,
                "fusion": args.fusion if "hybrid" in args.retriever else None,
                "graph_mode": args.graph_mode if "graph" in args.retriever else None,
                "embedding_model": model, "embedding_backend": backend, "k": args.k,
                "rerank": args.rerank, "rerank_backend": args.rerank_backend if args.rerank else None,
                "rerank_depth": args.rerank_depth if args.rerank else None,
                "rerank_blend": args.rerank_blend if args.rerank else None,
                "rerank_adaptive": args.rerank_adaptive if args.rerank else None},
    )
    if rerank_depths:
        metrics["adaptive_rerank"] = {
            "mean_depth": sum(rerank_depths) / len(rerank_depths),
            "share_by_depth": {str(d): rerank_depths.count(d) / len(rerank_depths) for d in sorted(set(rerank_depths))}}
    if args.retriever == "routed":
        metrics["routing"] = {**routed.describe(), "router_path": args.router_path,
                              "decisions": dict(sorted(decisions.items(), key=lambda kv: -kv[1]))}
        if confusion is not None:
            metrics["routing"]["confusion_vs_oracle"] = confusion
    if args.retriever == "iterative":
        metrics["iterative"] = {"iterations": args.iterations, "base": args.base, "keep": args.keep,
                                "generator": "extractive"}
    labels: list[int] = []
    if estimator is not None:
        from rag_plugins.eval.calibration import confidence_report, relevant_in_top_k

        top = estimator.metadata.get("top_k", 5)
        labels = [relevant_in_top_k([d for d, _ in run_[q]], dataset.qrels.get(q, {}), top) for q in estimates]
        metrics["confidence"] = {"file": args.confidence, "event": f"relevant document in the top {top}",
                                 **confidence_report(list(estimates.values()), labels)}
    out = EvalResult(run_, metrics)
    tag = f"rag-plugins-{args.retriever}" + ("-rerank" if args.rerank else "")
    out.write_run(args.run_file, tag=tag)
    out.write_metrics(args.output)
    if args.report:
        from rag_plugins.cli.common import write_file
        from rag_plugins.eval.report import build_eval_report

        page = build_eval_report(metrics, {q: [d for d, _ in docs] for q, docs in run_.items()}, dataset.queries,
                                 dataset.qrels, latencies, baseline=baseline,
                                 baseline_name=Path(args.baseline_run).stem if args.baseline_run else "baseline",
                                 confidence=list(estimates.values()), labels=labels)
        write_file(Path(args.report), page)
        print(f"report written to {args.report}", file=sys.stderr)
    print(json.dumps({k: metrics[k] for k in ("ndcg@10", "recall@5", "recall_all@5", "mrr@10", "n_queries")}))
    return 0
