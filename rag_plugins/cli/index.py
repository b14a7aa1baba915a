"""``rag-plugins index PATH... --kb DIR``: index files or folders; re-runs index only changes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rag_plugins.cli.common import add_model_args, open_kb
from rag_plugins.errors import MissingDependencyError, RagPluginsError
from rag_plugins.loaders import FORMATS, SkippedPath


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("index", help="index files or folders (text, Markdown, JSONL); re-running indexes only what changed")
    p.add_argument("paths", nargs="+", help="files or folders to index (folders are walked; other file types are skipped)")
    p.add_argument("--kb", required=True, help="knowledge-base directory (created if missing)")
    p.add_argument("--no-dense", action="store_true", help="BM25 only, no embedding model")
    p.add_argument("--graph", action="store_true", help="also build a knowledge graph (new bases; no LLM needed)")
    p.add_argument("--prune", action="store_true", help="delete documents whose files are gone from the given folders")
    p.add_argument("--follow-symlinks", action="store_true",
                   help="follow symlinks whose target is outside the given folders (skipped by default)")
    add_model_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rag_plugins.loaders import load_documents

    # read every file before the base is opened: a bad path creates no kb.sqlite
    skipped: list[SkippedPath] = []
    docs = list(load_documents(args.paths, follow_symlinks=args.follow_symlinks, skipped=skipped))
    _report(skipped)
    if not docs and not args.prune:
        raise RagPluginsError(f"nothing to index in {' '.join(args.paths)}: {_no_documents(skipped)}")
    try:
        kb = open_kb(Path(args.kb), args, dense=not args.no_dense, graph=args.graph)
        with kb:
            result = kb.upsert(docs)
            deleted: list[str] = []
            if args.prune:
                prefixes = tuple(Path(p).as_posix().rstrip("/") + "/" for p in args.paths if Path(p).is_dir())
                scanned = {d.id for d in docs}
                stale = [i for i in kb.document_ids() if i.startswith(prefixes) and i not in scanned]
                deleted = kb.delete(stale)
            commit = kb.commit()
    except MissingDependencyError as exc:
        if args.no_dense:
            raise
        raise RagPluginsError(f"{exc}; or pass --no-dense to build a BM25-only base without it") from exc
    print(f"indexed {len(docs)} document(s) into {args.kb}: {len(result.added)} added, "
          f"{len(result.updated)} updated, {len(result.unchanged)} unchanged, {len(deleted)} deleted; "
          f"{commit.chunks_added} chunk(s) indexed, {commit.chunks_embedded} embedded, "
          f"generation {commit.generation} ({commit.seconds:.1f}s)"
          + (f"; {len(skipped)} path(s) skipped (listed above)" if skipped else ""))
    return 0


def _report(skipped: list[SkippedPath]) -> None:
    """One stderr line per link or unreadable file; one line for every unsupported file."""
    unsupported = [s for s in skipped if s.kind == "unsupported"]
    for skip in skipped:
        if skip.kind != "unsupported":
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


def _no_documents(skipped: list[SkippedPath]) -> str:
    """Why nothing was indexable, and the fix."""
    supported = f"index files of type {' '.join(sorted(FORMATS))} (text, Markdown, JSONL)"
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
