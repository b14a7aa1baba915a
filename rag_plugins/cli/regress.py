"""``rag-plugins regress KB``: the retrieval regression gate over a base's golden queries."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rag_plugins.cli.common import add_graph_args, add_retriever_args, add_router_args, make_retriever, write_file
from rag_plugins.errors import InvalidInputError, RagPluginsError
from rag_plugins.ops.regression import compare, load_golden, run_golden
from rag_plugins.store.knowledge_base import KnowledgeBase

GOLDEN = "golden.jsonl"
BASELINE = "golden_baseline.json"


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
    if not 0 <= args.margin < 1:
        raise InvalidInputError(f"--margin must be at least 0 and below 1, got {args.margin}")
    golden_path = Path(args.golden) if args.golden else directory / GOLDEN
    if not golden_path.exists():
        raise InvalidInputError(f"no golden queries at {golden_path}; write one {{\"query\", \"expected\"}} per line, "
                                "or make them from BEIR qrels with: rag-plugins golden DATASET --output "
                                f"{golden_path}")
    golden = load_golden(golden_path)
    baseline_path = Path(args.baseline) if args.baseline else directory / BASELINE
    with KnowledgeBase.open(directory, embedder=args.embedding_model, read_only=True) as kb:
        retriever = make_retriever(kb, args.retriever, args.fusion, args.graph_mode, args)
        result = run_golden(retriever, golden, k=args.k)
    print(f"{len(golden)} golden queries, {args.retriever} top {args.k}: recall@{args.k} {result.recall:.3f}, "
          f"MRR@{args.k} {result.mrr:.3f} (generation {', '.join(map(str, result.generations)) or '-'})")
    if args.update_baseline or not baseline_path.exists():
        _write_baseline(baseline_path, result.to_baseline())
        print(f"baseline recorded at {baseline_path}: later runs are compared with it")
        if args.json:
            print(json.dumps({"passed": True, "recorded": str(baseline_path), "recall": result.recall,
                              "mrr": result.mrr, "k": args.k}))
        return 0
    baseline = _read_baseline(baseline_path)
    report = compare(result, baseline, args.margin)
    overall = baseline["overall"]
    print(f"baseline {baseline_path}: recall@{args.k} {overall[f'recall@{args.k}']:.3f}, "
          f"MRR@{args.k} {overall[f'mrr@{args.k}']:.3f}")
    for regression in report.regressions:
        now = regression.now
        print(f"  worse: {now.query!r}: {regression.reason}; now retrieves {', '.join(now.retrieved[:3]) or 'nothing'}")
    print("PASS" if report.passed else "FAIL: " + "; ".join(report.failures))
    verdict = report.to_dict()
    _write_baseline(last_run_path(baseline_path), {**verdict, "at": time.time()})  # what ops report shows
    if args.json:
        print(json.dumps(verdict, ensure_ascii=False))
    return 0 if report.passed else 1


def last_run_path(baseline: Path) -> Path:
    """Where the last verdict against ``baseline`` is kept."""
    return baseline.with_name(baseline.stem + ".last_run.json")


def _read_baseline(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot read the baseline {path} ({exc}); delete it to record a new one") from exc


def _write_baseline(path: Path, baseline: dict) -> None:
    write_file(path, json.dumps(baseline, indent=1) + "\n")
