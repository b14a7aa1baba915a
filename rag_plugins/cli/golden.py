"""``rag-plugins golden DATASET`` / ``--from-log KB``: golden queries for ``regress`` from BEIR
relevance judgements, or from the answers users accepted (the retrieval log's feedback)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rag_plugins.errors import InvalidInputError
from rag_plugins.ops.regression import golden_from_feedback, golden_from_qrels, write_golden
from rag_plugins.ops.retrieval_log import read_feedback


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("golden", help="write golden queries for regress from a BEIR dataset's qrels, or from the "
                                      "answers users accepted (--from-log)")
    p.add_argument("dataset", nargs="?", help="a BEIR-layout folder (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv)")
    p.add_argument("--from-log", metavar="KB", help="instead: the queries whose answers users accepted, from the "
                                                    "retrieval log of this base (or log file)")
    p.add_argument("--min-accepted", type=int, default=1,
                   help="with --from-log: accepted at least this many times, and not rejected since (default 1)")
    p.add_argument("--split", default="test", help="the qrels split (default test)")
    p.add_argument("--output", required=True, help="the golden JSONL to write (e.g. KB/golden.jsonl)")
    p.add_argument("--limit", type=int, help="at most this many queries")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rag_plugins.eval.beir import load_beir

    if args.limit is not None and args.limit < 1:
        raise InvalidInputError(f"--limit must be positive, got {args.limit}")
    if (args.dataset is None) == (args.from_log is None):
        raise InvalidInputError("give either a BEIR dataset folder or --from-log KB")
    output = Path(args.output)
    if output.exists():
        raise InvalidInputError(f"{output} exists; golden queries are curated by hand too, so remove it first")
    if args.from_log is not None:
        golden = golden_from_feedback(read_feedback(args.from_log), min_accepted=args.min_accepted, limit=args.limit)
        if not golden:
            raise InvalidInputError(f"the retrieval log of {args.from_log} holds no accepted answers; record them with "
                                    "RetrievalLog.record_feedback(query, ids)")
        count = write_golden(golden, output)
        print(f"{count} golden queries from the answers accepted in {args.from_log} written to {output}")
        return 0
    dataset = load_beir(args.dataset, args.split)
    count = write_golden(golden_from_qrels(dataset.queries, dataset.qrels, args.limit), output)
    print(f"{count} golden queries from {args.dataset} ({args.split}) written to {output}")
    return 0
