"""``rag-plugins calibrate DATASET_DIR``: fit a retrieval-confidence model on a labelled split."""

from __future__ import annotations

import argparse
import json

from rag_plugins.cli.common import (
    RETRIEVERS, add_fusion_arg, add_graph_args, add_index_dir_args, add_model_args, add_rerank_args, dataset_kb,
    index_needs, make_pipeline,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate", help="fit the confidence that a relevant document is in the top k, "
                                         "for one retrieval pipeline, on a labelled split")
    p.add_argument("dataset")
    p.add_argument("--split", default="train")
    p.add_argument("--retriever", choices=RETRIEVERS, default="hybrid")
    add_fusion_arg(p)
    add_graph_args(p)
    add_index_dir_args(p)
    add_rerank_args(p)
    p.add_argument("--top-k", type=int, default=5, help="the event calibrated: a relevant document in the top K")
    p.add_argument("--candidates", type=int,
                   help="hits retrieved per query while fitting (default max(10, --top-k)); to gate --rerank-adaptive, "
                        "the depth the reranker is given (--rerank-depth), since fused scores depend on it")
    p.add_argument("--method", choices=("platt", "isotonic"), default="platt")
    p.add_argument("--threshold", type=float, default=0.5, help="abstain below this confidence (default 0.5)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--holdout", type=float, default=0.0,
                   help="fit only on the held-out fraction of the split that `train-reranker --holdout F` left out")
    p.add_argument("--seed", type=int, default=13, help="the --seed given to train-reranker")
    p.add_argument("--output", required=True, help="confidence JSON to write")
    add_model_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rag_plugins.confidence import ConfidenceEstimator
    from rag_plugins.eval.beir import held_out, load_beir, subset
    from rag_plugins.eval.calibration import confidence_report, relevant_in_top_k
    from rag_plugins.eval.runner import run_queries

    dataset = load_beir(args.dataset, args.split)
    if args.holdout:
        dataset = subset(dataset, {q for q in dataset.queries if held_out(q, args.holdout, args.seed)})
    hit_lists, labels = [], []

    def record(qid: str, hits: list) -> None:
        documents = list(dict.fromkeys(h.document_id for h in hits))
        hit_lists.append(hits)
        labels.append(relevant_in_top_k(documents, dataset.qrels.get(qid, {}), args.top_k))

    with dataset_kb(dataset, args, **index_needs(args.retriever)) as indexed:
        retriever = make_pipeline(indexed.kb, args)
        depth = args.candidates or max(10, args.top_k)
        run_queries(retriever, dataset, k=depth, batch_size=args.batch_size, chunk_depth=1, on_hits=record)
    estimator = ConfidenceEstimator(args.method, args.threshold).fit(
        hit_lists, labels,
        metadata={"top_k": args.top_k, "dataset": str(args.dataset), "split": args.split,
                  "holdout": args.holdout, "retriever": args.retriever, "fusion": args.fusion if args.retriever == "hybrid" else None,
                  "rerank": args.rerank, "rerank_depth": args.rerank_depth if args.rerank else None,
                  "candidates": depth},
    )
    estimator.save(args.output)
    fitted = confidence_report(estimator.predict(hit_lists), labels)
    print(json.dumps({"output": args.output, "split": args.split, "n_queries": len(labels),
                      "auroc_on_fit_split": fitted["auroc"], "ece_on_fit_split": fitted["ece"]}, indent=2))
    return 0
