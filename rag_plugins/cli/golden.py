"""``rag-plugins golden DATASET``: golden queries for ``regress`` from BEIR relevance judgements."""

from __future__ import annotations

import argparse
from pathlib import Path

from rag_plugins.errors import InvalidInputError
from rag_plugins.ops.regression import golden_from_qrels, write_golden


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("golden", help="write golden queries for regress from a BEIR dataset's qrels")
    p.add_argument("dataset", help="a BEIR-layout folder (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv)")
    p.add_argument("--split", default="test", help="the qrels split (default test)")
    p.add_argument("--output", required=True, help="the golden JSONL to write (e.g. KB/golden.jsonl)")
    p.add_argument("--limit", type=int, help="at most this many queries")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rag_plugins.eval.beir import load_beir

    if args.limit is not None and args.limit < 1:
        raise InvalidInputError(f"--limit must be positive, got {args.limit}")
    dataset = load_beir(args.dataset, args.split)
    output = Path(args.output)
    if output.exists():
        raise InvalidInputError(f"{output} exists; golden queries are curated by hand too, so remove it first")
    count = write_golden(golden_from_qrels(dataset.queries, dataset.qrels, args.limit), output)
    print(f"{count} golden queries from {args.dataset} ({args.split}) written to {output}")
    return 0
