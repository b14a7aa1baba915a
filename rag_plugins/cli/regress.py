"""``rag-plugins regress KB``: the retrieval regression gate over a base's golden queries."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rag_plugins.cli.common import add_backend_arg, add_graph_args, add_retriever_args, add_router_args, make_retriever
from rag_plugins.errors import InvalidInputError, RagPluginsError
from rag_plugins.ops.gate import BASELINE, GOLDEN, RegressionGate
from rag_plugins.store.knowledge_base import KnowledgeBase


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("regress", help="run golden queries and fail when retrieval got worse than the baseline")
    p.add_argument("kb", help="a knowledge-base directory")
    p.add_argument("--golden", help=f"golden queries, JSONL {{query, expected, min_rank}} (default KB/{GOLDEN}; "
                                    "rag-plugins golden makes one from BEIR qrels)")
    p.add_argument("--baseline", help=f"the stored baseline (default KB/{BASELINE}); recorded when missing")
    p.add_argument("--k", type=int, default=10, help="hits per query (default 10)")
    p.add_argument("--margin", type=float, default=0.02,
                   help="how far overall recall@k or MRR@k may fall below the baseline (default 0.02)")
    p.add_argument("--update-baseline", action="store_true", help="record this run as the new baseline")
    p.add_argument("--embedding-model", help="load the base's embedding model from here (e.g. a local copy)")
    add_backend_arg(p)
    add_retriever_args(p)
    add_graph_args(p)
    add_router_args(p)
    p.add_argument("--json", action="store_true", help="also print the verdict as one JSON object, last line")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    directory = Path(args.kb)
    if not (directory / "kb.sqlite").exists():
        raise RagPluginsError(f"{directory} is not a knowledge base; create it with: rag-plugins sync PATH --kb {directory}")
    if args.retriever == "iterative":
        raise InvalidInputError("regress scores one search per query; pick --retriever bm25, dense, hybrid, graph "
                                "or routed")
    golden_path = Path(args.golden) if args.golden else directory / GOLDEN
    if not golden_path.exists():
        raise InvalidInputError(f"no golden queries at {golden_path}; write one {{\"query\", \"expected\"}} per line, "
                                "or make them from BEIR qrels with: rag-plugins golden DATASET --output "
                                f"{golden_path}")
    gate = RegressionGate(golden_path, Path(args.baseline) if args.baseline else directory / BASELINE,
                          retriever=lambda kb: make_retriever(kb, args.retriever, args.fusion, args.graph_mode, args),
                          k=args.k, margin=args.margin)
    with KnowledgeBase.open(directory, embedder=args.embedding_model, read_only=True,
                            embedding_backend=args.embedding_backend) as kb:
        verdict = gate.evaluate(kb, update_baseline=args.update_baseline)
    print("\n".join(verdict.lines()))
    if args.json:
        print(json.dumps(verdict.to_dict(), ensure_ascii=False))
    return 0 if verdict.passed else 1
