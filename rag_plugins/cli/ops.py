"""``rag-plugins ops report --kb DIR --output report.html``: how retrieval has been doing, as one page."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rag_plugins.cli.common import write_file
from rag_plugins.cli.regress import BASELINE, last_run_path
from rag_plugins.errors import InvalidInputError, RagPluginsError
from rag_plugins.ops.retrieval_log import FILE_NAME, read_retrieval_log
from rag_plugins.store.knowledge_base import KnowledgeBase


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ops", help="operating a base: ops report writes an HTML page of its retrieval log")
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
