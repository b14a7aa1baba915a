"""``rag-plugins train-reranker DATASET_DIR``: fine-tune a cross-encoder on BEIR qrels."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from rag_plugins.cli.common import (
    RETRIEVERS, add_fusion_arg, add_index_dir_args, add_model_args, dataset_kb, index_needs, make_retriever,
)


def register(sub: argparse._SubParsersAction) -> None:
    from rag_plugins.rerank.training import RerankerTrainingConfig

    d = RerankerTrainingConfig()
    p = sub.add_parser("train-reranker", help="train a cross-encoder reranker on a BEIR split, with hard negatives "
                                              "mined by the project's own retriever")
    p.add_argument("dataset")
    p.add_argument("--split", default="train")
    p.add_argument("--base", required=True, help="model to start from: a cross-encoder or any encoder (id or folder)")
    p.add_argument("--output", required=True, help="new folder for the trained model (safetensors + config)")
    p.add_argument("--retriever", choices=RETRIEVERS, default="hybrid", help="miner of hard negatives")
    add_fusion_arg(p)
    add_index_dir_args(p)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--negatives", type=int, default=d.negatives, help="hard negatives per relevant passage")
    p.add_argument("--mining-depth", type=int, default=d.mining_depth, help="negatives are drawn from this many top hits")
    p.add_argument("--groups-per-step", type=int, default=d.groups_per_step)
    p.add_argument("--learning-rate", type=float, default=d.learning_rate, help="of the pretrained encoder")
    p.add_argument("--head-learning-rate", type=float, default=d.head_learning_rate,
                   help="of the freshly initialised pooler and classifier")
    p.add_argument("--max-length", type=int, default=d.max_length)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--holdout", type=float, default=0.0,
                   help="leave out this fraction of the split's queries (chosen by hash with --seed), e.g. to "
                        "calibrate confidence on queries the reranker never saw: calibrate --holdout F")
    p.add_argument("--holdout-seed", type=int,
                   help="seed of the --holdout draw (default: --seed); keep it fixed when a second run "
                        "continues from the first with another --seed, so the held-out queries stay unseen")
    p.add_argument("--device", help="torch device (default: CUDA, then MPS, else CPU)")
    add_model_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rag_plugins.eval.beir import held_out, load_beir, subset
    from rag_plugins.rerank.training import RerankerTrainingConfig, mine_training_groups, train_reranker

    config = RerankerTrainingConfig(
        epochs=args.epochs, negatives=args.negatives, mining_depth=args.mining_depth,
        groups_per_step=args.groups_per_step, learning_rate=args.learning_rate,
        head_learning_rate=args.head_learning_rate,
        max_length=args.max_length, seed=args.seed,
    )
    dataset = load_beir(args.dataset, args.split)
    holdout_seed = args.seed if args.holdout_seed is None else args.holdout_seed
    held = {q for q in dataset.queries if held_out(q, args.holdout, holdout_seed)} if args.holdout else set()
    training = subset(dataset, set(dataset.queries) - held)
    with dataset_kb(dataset, args, **index_needs(args.retriever)) as indexed:
        retriever = make_retriever(indexed.kb, args.retriever, args.fusion)
        groups = mine_training_groups(indexed.kb, retriever, training.queries, training.qrels,
                                      negatives=config.negatives, depth=config.mining_depth, seed=config.seed)
    report = train_reranker(
        groups, args.base, args.output, config, device=args.device,
        data={"dataset": str(args.dataset), "split": args.split, "queries": len(training.queries),
              "holdout": args.holdout, "holdout_seed": holdout_seed, "held_out_queries": sorted(held),
              "miner": args.retriever, "fusion": args.fusion if args.retriever == "hybrid" else None},
    )
    summary = {k: v for k, v in asdict(report).items() if k not in ("config", "data")}
    print(json.dumps(summary, indent=2))
    return 0
