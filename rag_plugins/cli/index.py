"""``rag-plugins index PATH... --kb DIR``: index files or folders; re-runs index only changes.

The same walk and sync as ``rag-plugins sync`` (:mod:`rag_plugins.cli.sync`), except that
documents of files gone from the folders are kept unless ``--prune``.
"""

from __future__ import annotations

import argparse

from rag_plugins.cli.sync import add_source_args, sync_once


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("index", help="index files or folders (text, Markdown, JSONL, PDF, HTML, Word, source code, "
                                     "Slack exports); re-running indexes only what changed")
    p.add_argument("paths", nargs="+", help="files or folders to index (folders are walked; other file types are skipped)")
    p.add_argument("--prune", action="store_true", help="delete documents whose files are gone from the given folders")
    add_source_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = sync_once(args, prune=args.prune)
    left_out = len(report.skipped) + len(report.failed)
    print(f"indexed {report.files - len(report.failed)} file(s) into {args.kb}: {len(report.added)} added, "
          f"{len(report.updated)} updated, {len(report.unchanged)} unchanged, {len(report.removed)} deleted; "
          f"{report.chunks_embedded} chunk(s) embedded, generation {report.generation} ({report.seconds:.1f}s)"
          + (f"; {left_out} path(s) skipped (listed above)" if left_out else ""))
    return 0
