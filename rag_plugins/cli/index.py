"""``rag-plugins index PATH... --kb DIR``: index files or folders; re-runs index only changes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rag_plugins.cli.common import add_model_args, open_kb


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("index", help="index files or folders (text, Markdown, JSONL); re-running indexes only what changed")
    p.add_argument("paths", nargs="+")
    p.add_argument("--kb", required=True, help="knowledge-base directory (created if missing)")
    p.add_argument("--no-dense", action="store_true", help="BM25 only, no embedding model")
    p.add_argument("--graph", action="store_true", help="also build a knowledge graph (new bases; no LLM needed)")
    p.add_argument("--prune", action="store_true", help="delete documents whose files are gone from the given folders")
    p.add_argument("--follow-symlinks", action="store_true",
                   help="follow symlinks whose target is outside the given folders (skipped by default)")
    add_model_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rag_plugins.loaders import SkippedPath, load_documents

    kb = open_kb(Path(args.kb), args, dense=not args.no_dense, graph=args.graph)
    with kb:
        skipped: list[SkippedPath] = []
        docs = list(load_documents(args.paths, follow_symlinks=args.follow_symlinks, skipped=skipped))
        for skip in skipped:
            print(f"skipped {skip}", file=sys.stderr)
        result = kb.upsert(docs)
        deleted: list[str] = []
        if args.prune:
            prefixes = tuple(Path(p).as_posix().rstrip("/") + "/" for p in args.paths if Path(p).is_dir())
            scanned = {d.id for d in docs}
            stale = [i for i in kb.document_ids() if i.startswith(prefixes) and i not in scanned]
            deleted = kb.delete(stale)
        commit = kb.commit()
    print(f"indexed {len(docs)} document(s) into {args.kb}: {len(result.added)} added, "
          f"{len(result.updated)} updated, {len(result.unchanged)} unchanged, {len(deleted)} deleted; "
          f"{commit.chunks_added} chunk(s) indexed, {commit.chunks_embedded} embedded, "
          f"generation {commit.generation} ({commit.seconds:.1f}s)")
    return 0
