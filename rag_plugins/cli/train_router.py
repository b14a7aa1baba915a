"""``rag-plugins train-router DATASET_DIR``: learn which route serves which query."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rag_plugins.cli.common import add_index_dir_args, add_model_args, dataset_kb
from rag_plugins.routing.decision import ROUTES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-router", help="train the learned query router on a labeled BEIR split: every route "
                                            "runs on every query, the best by nDCG@10 is the label")
    p.add_argument("dataset")
    p.add_argument("--split", default="train")
    p.add_argument("--output", required=True, help="folder for the router (router.json + weights.npy)")
    p.add_argument("--routes", help=f"comma-separated routes to choose among (default: every route the base "
                                    f"serves, from {', '.join(ROUTES)})")
    p.add_argument("--no-graph", action="store_true", help="index without a knowledge graph (no graph routes)")
    p.add_argument("--no-embedding-features", action="store_true",
                   help="learn from the rule features only (not the query embedding)")
    p.add_argument("--tolerance", type=float, default=0.0,
                   help="routes within this nDCG@10 of a query's best also count as its best")
    add_index_dir_args(p)
    add_model_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rag_plugins.eval.beir import load_beir
    from rag_plugins.routing.training import train_router

    dataset = load_beir(args.dataset, args.split)
    routes = tuple(r.strip() for r in args.routes.split(",")) if args.routes else None
    # a reused base without a graph still trains a router over the routes it serves
    with dataset_kb(dataset, args, dense=True, graph=not args.no_graph, require_graph=False) as indexed:
        router = train_router(indexed.kb, dataset, routes, use_embedding=not args.no_embedding_features,
                              tolerance=args.tolerance)
    out = router.save(Path(args.output))
    print(json.dumps({"output": str(out), "routes": list(router.routes), **router.metadata}))
    return 0
