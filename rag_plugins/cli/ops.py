"""``rag-plugins ops report --kb DIR --output report.html``: how retrieval has been doing, as one page;
``rag-plugins ops staleness --kb DIR``: what no sync re-checked lately, and how old retrieved text is."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rag_plugins.cli.common import write_file
from rag_plugins.ops.gate import BASELINE, last_run_path
from rag_plugins.errors import InvalidInputError, RagPluginsError
from rag_plugins.ops.retrieval_log import FILE_NAME, read_retrieval_log
from rag_plugins.store.knowledge_base import KnowledgeBase


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ops", help="operating a base: ops report writes an HTML page of its retrieval log; "
                                   "ops staleness lists what was not re-checked")
    actions = p.add_subparsers(dest="action", required=True)
    report = actions.add_parser("report", help="one HTML page: collapse, top documents, confidence, staleness, "
                                               "the last regression run")
    report.add_argument("--kb", required=True, help="a knowledge-base directory")
    report.add_argument("--output", required=True, help="the HTML file to write")
    report.add_argument("--log", help=f"the retrieval log (default KB/{FILE_NAME})")
    report.add_argument("--days", type=float, default=7.0, help="the window: searches of the last DAYS days (default 7)")
    report.add_argument("--baseline", help=f"the regression baseline whose last run to show (default KB/{BASELINE})")
    report.add_argument("--stale-days", type=int, default=180, help="what counts as stale (default 180 days)")
    report.set_defaults(func=run_report)
    stale = actions.add_parser("staleness", help="sources and documents no sync re-checked within --unchecked-days, "
                                                 "and the age of what the logged searches retrieved")
    stale.add_argument("--kb", required=True, help="a knowledge-base directory")
    stale.add_argument("--unchecked-days", type=float, default=30.0,
                       help="list what no sync looked at within this many days (default 30)")
    stale.add_argument("--stale-days", type=float, default=180.0,
                       help="report the share of retrieved hits older than this (default 180 days)")
    stale.add_argument("--log", help=f"the retrieval log (default KB/{FILE_NAME})")
    stale.add_argument("--days", type=float, default=7.0, help="the log window: searches of the last DAYS days (default 7)")
    stale.add_argument("--limit", type=int, default=20, help="list at most this many (default 20)")
    stale.add_argument("--json", action="store_true", help="also print the report as one JSON object, last line")
    stale.set_defaults(func=run_staleness)


def run_report(args: argparse.Namespace) -> int:
    from rag_plugins.ops.report import build_report, read_last_regression

    directory = Path(args.kb)
    if not (directory / "kb.sqlite").exists():
        raise RagPluginsError(f"{directory} is not a knowledge base")
    if not args.days > 0:
        raise InvalidInputError(f"--days must be positive, got {args.days}")
    log = Path(args.log) if args.log else directory / FILE_NAME
    searches = read_retrieval_log(log, since=time.time() - args.days * 86400) if log.exists() else []
    baseline = Path(args.baseline) if args.baseline else directory / BASELINE
    with KnowledgeBase.open(directory, read_only=True) as kb:
        page = build_report(kb, searches, last_regression=read_last_regression(last_run_path(baseline)),
                            stale_days=args.stale_days)
    output = Path(args.output)
    write_file(output, page)
    print(f"report on {len(searches):,} searches of the last {args.days:g} days written to {output}")
    return 0


def run_staleness(args: argparse.Namespace) -> int:
    import json

    from rag_plugins.ops.staleness import staleness

    directory = Path(args.kb)
    if not (directory / "kb.sqlite").exists():
        raise RagPluginsError(f"{directory} is not a knowledge base")
    if not args.days > 0 or not args.stale_days > 0 or args.limit < 1:
        raise InvalidInputError("--days and --stale-days must be positive and --limit at least 1")
    log = Path(args.log) if args.log else directory / FILE_NAME
    searches = read_retrieval_log(log, since=time.time() - args.days * 86400) if log.exists() else []
    with KnowledgeBase.open(directory, read_only=True) as kb:
        report = staleness(kb, searches, unchecked_days=args.unchecked_days)
    sources, documents = report.unchecked_sources(), report.unchecked_documents()
    print(f"{len(sources):,} of {len(report.sources):,} sources and {len(documents):,} of {len(report.documents):,} "
          f"documents not re-checked within {args.unchecked_days:g} days")
    for source in sources[:args.limit]:
        when = "never recorded" if source.checked_at is None else f"{(report.now - source.checked_at) / 86400:.0f} days ago"
        print(f"  source {source.source}: last checked {when} ({source.documents} document(s))")
    for document in [d for d in documents if d.source is None][:args.limit]:
        print(f"  document {document.id}: last written {(report.now - document.checked_at) / 86400:.0f} days ago "
              "(not from a synced source)")
    share = report.retrieved_older_than(args.stale_days)
    if share is None:
        print(f"no retrieved hits to age in {log} over the last {args.days:g} days")
    else:
        bands = ", ".join(f"{name} {value:.0%}" for name, value in report.age_bands().items())
        print(f"{share:.0%} of the {len(report.retrieved_ages):,} hits retrieved in the last {args.days:g} days came "
              f"from documents older than {args.stale_days:g} days (by age when retrieved: {bands})")
    if args.json:
        print(json.dumps(report.to_dict(args.stale_days, args.limit)))
    return 0
