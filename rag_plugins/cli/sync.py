"""``rag-plugins sync SOURCE... --kb DIR``: keep a base in step with its files (``--watch`` to poll)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rag_plugins.cli.common import add_model_args, open_kb
from rag_plugins.errors import InvalidInputError, MissingDependencyError, RagPluginsError, RegressionGateError
from rag_plugins.loaders import FORMATS, SkippedPath, load_source, scan_sources
from rag_plugins.ops.gate import GOLDEN, RegressionGate
from rag_plugins.store.sync import SyncReport, sync_sources


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sync", help="bring a base in line with files and folders: add new, re-index changed, "
                                    "delete removed; unchanged files cost a stat")
    p.add_argument("sources", nargs="+", help="files, folders or Slack exports (folders are walked)")
    add_source_args(p)
    p.add_argument("--no-prune", action="store_true",
                   help="keep the documents of files that are gone from the given folders")
    p.add_argument("--json", action="store_true",
                   help="print the report as one JSON object on the last line of stdout")
    p.add_argument("--watch", type=float, metavar="SECONDS",
                   help="keep running: sync again every SECONDS (Ctrl-C stops)")
    p.add_argument("--gate", action="store_true",
                   help=f"publish the sync only if the base's regression gate (KB/{GOLDEN} against its baseline) "
                        "passes on it; without --gate the gate still runs after a sync that changed the base, "
                        "and only reports")
    p.set_defaults(func=run)


def add_source_args(p: argparse.ArgumentParser) -> None:
    """What ``index`` and ``sync`` share: the base, the walk, and the models."""
    p.add_argument("--kb", required=True, help="knowledge-base directory (created if missing)")
    p.add_argument("--include", action="append", default=[], metavar="GLOB",
                   help="only files matching this gitignore-style glob, relative to the folder (repeatable)")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                   help="leave out files or folders matching this glob (repeatable)")
    p.add_argument("--no-gitignore", action="store_true", help="read files that a .gitignore in the folders ignores")
    p.add_argument("--follow-symlinks", action="store_true",
                   help="follow symlinks whose target is outside the given folders (skipped by default)")
    p.add_argument("--no-dense", action="store_true", help="BM25 only, no embedding model")
    p.add_argument("--graph", action="store_true", help="also build a knowledge graph (new bases; no LLM needed)")
    add_model_args(p)


def run(args: argparse.Namespace) -> int:
    if args.watch is not None and not args.watch > 0:
        raise RagPluginsError(f"--watch takes a number of seconds > 0, got {args.watch}")
    if args.gate and not (Path(args.kb) / GOLDEN).exists():
        raise InvalidInputError(f"--gate needs golden queries at {Path(args.kb) / GOLDEN}; make them with rag-plugins "
                                "golden, or write one {\"query\", \"expected\"} per line")
    while True:
        try:
            report = sync_once(args, prune=not args.no_prune)
        except RegressionGateError as exc:
            print("\n".join(exc.verdict.lines()))
            print(f"not synced: the regression gate failed, so {args.kb} was left as it was; fix the cause, or sync "
                  "without --gate and then record a new baseline (rag-plugins regress --update-baseline)", flush=True)
            if args.watch is None:
                return 1
            time.sleep(args.watch)
            continue
        print(f"synced {args.kb}: {report.summary()}")
        if args.json:
            print(json.dumps(report.to_dict()), flush=True)
        if args.watch is None:
            return 1 if report.failed and not (report.added or report.updated or report.unchanged) else 0
        time.sleep(args.watch)


def sync_once(args: argparse.Namespace, prune: bool) -> SyncReport:
    """Walk the sources and sync the base. A new base is created only once something loads."""
    scan = scan_sources(args.sources if hasattr(args, "sources") else args.paths, include=args.include,
                        exclude=args.exclude, gitignore=not args.no_gitignore, follow_symlinks=args.follow_symlinks)
    directory = Path(args.kb)
    loaded: dict[Path, object] = {}
    if not (directory / "kb.sqlite").exists():
        loaded = {path: load_source(path) for path in scan.files}
        unreadable = [v for v in loaded.values() if isinstance(v, SkippedPath)]
        if len(unreadable) == len(loaded):
            report_skips(scan.skipped + unreadable)
            raise RagPluginsError(f"nothing to index in {' '.join(map(str, scan.named + scan.folders))}: "
                                  f"{no_documents(scan.skipped + unreadable)}")
    try:
        kb = open_kb(directory, args, dense=not args.no_dense, graph=args.graph)
    except MissingDependencyError as exc:
        if args.no_dense:
            raise
        raise RagPluginsError(f"{exc}; or pass --no-dense to build a BM25-only base without it") from exc
    with kb:
        gate = RegressionGate.for_knowledge_base(kb)
        if gate is not None:
            gate.record_baseline_if_missing(kb)
        was = kb.generation
        report = sync_sources(kb, scan, prune=prune, loaded=loaded,  # type: ignore[arg-type]
                              gate=gate if getattr(args, "gate", False) else None)
        if gate is not None and kb.generation != was:
            if not getattr(args, "gate", False):  # a gated commit ran it already
                gate.evaluate(kb)
            print("\n".join(gate.last.lines()))
    report_skips(report.skipped + report.failed + report.notes)
    return report


def report_skips(skipped: list[SkippedPath]) -> None:
    """One stderr line per link, unreadable or partly read file; one line for every unsupported file."""
    unsupported = [s for s in skipped if s.kind == "unsupported"]
    for skip in skipped:
        if skip.kind == "partial":
            print(f"note {skip}", file=sys.stderr)
        elif skip.kind != "unsupported":
            print(f"skipped {skip}", file=sys.stderr)
    if unsupported:
        print(f"skipped {len(unsupported)} file(s) of unsupported type ({_types(unsupported)}); "
              f"supported: {' '.join(sorted(FORMATS))}", file=sys.stderr)


def _types(skips: list[SkippedPath]) -> str:
    counts: dict[str, int] = {}
    for skip in skips:
        suffix = skip.path.suffix.lower() or "no extension"
        counts[suffix] = counts.get(suffix, 0) + 1
    return ", ".join(f"{n} {suffix}" for suffix, n in sorted(counts.items()))


def no_documents(skipped: list[SkippedPath]) -> str:
    """Why nothing was indexable, and the fix."""
    supported = f"index files of type {' '.join(sorted(FORMATS))} or a Slack export"
    if not skipped:
        return f"no files found; {supported}"
    kinds = {"unsupported": "of unsupported type", "unreadable": "unreadable", "link": "symlinks not followed"}
    counts = {kind: sum(s.kind == kind for s in skipped) for kind in kinds}
    found = ", ".join(f"{n} {kinds[kind]}" for kind, n in counts.items() if n)
    fixes = [supported]
    if counts["unreadable"]:
        fixes.insert(0, "fix the unreadable files listed above")
    if counts["link"]:
        fixes.append("pass --follow-symlinks to follow links out of the folder")
    return f"every file was skipped ({found}); " + ", or ".join(fixes)
