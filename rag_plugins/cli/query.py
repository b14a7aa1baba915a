"""``rag-plugins query DIR "text"``: search a knowledge base, optionally reranked."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from rag_plugins.catalog import CATALOG
from rag_plugins.cli.common import (
    add_backend_arg, add_graph_args, add_iterative_args, add_rerank_args, add_retriever_args, add_router_args,
    make_retriever, parse_filter, with_reranking,
)
from rag_plugins.errors import RagPluginsError
from rag_plugins.store.knowledge_base import KnowledgeBase


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("query", help="search a knowledge base")
    p.add_argument("kb")
    p.add_argument("query")
    add_retriever_args(p)
    add_graph_args(p)
    add_router_args(p)
    add_iterative_args(p)
    p.add_argument("--k", type=int, default=5, help="hits to return (default 5)")
    p.add_argument("--filter", help='metadata filter as JSON, e.g. \'{"lang": "en"}\'')
    p.add_argument("--embedding-model", help="must be the model the base was built with")
    add_backend_arg(p)
    add_rerank_args(p, depth=50)
    p.add_argument("--json", action="store_true", help="print hits as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    directory = Path(args.kb)
    filters = parse_filter(args.filter)  # before loading any model
    if not (directory / "kb.sqlite").exists():
        raise RagPluginsError(f"{directory} is not a knowledge base; create it with: rag-plugins index PATH --kb {directory}")
    with KnowledgeBase.open(directory, embedder=args.embedding_model, read_only=True,
                            embedding_backend=args.embedding_backend) as kb:
        kind = args.retriever
        missing = CATALOG.needs(kind, getattr(args, "base", None)) - set(kb.index_kinds)
        if "graph" in missing:
            raise RagPluginsError(f"{directory} has no knowledge graph; build one with: "
                                  f"rag-plugins index PATH --kb NEW_DIR --graph")
        if "vectors" in missing and kind in CATALOG.routes:  # the same search without its dense part
            fallback = "graph" if "graph" in CATALOG.needs(kind) else "bm25"
            print(f"note: {directory} has no dense index; answering with --retriever {fallback}", file=sys.stderr)
            kind = fallback
        retriever = make_retriever(kb, kind, args.fusion, args.graph_mode, args)
        decisions: list = []
        if kind == "routed":
            retriever.on_decision = lambda query, decision: decisions.append(decision)
        retriever = with_reranking(retriever, args)
        hits = retriever.retrieve(args.query, k=args.k, filters=filters)
        documents = {h.chunk.document_id: kb.document_info(h.chunk.document_id) for h in hits}
    if args.json:
        print(json.dumps([{**h.to_dict(), "document": _document_json(documents[h.chunk.document_id])} for h in hits],
                         indent=2, ensure_ascii=False))
        return 0
    for decision in decisions:
        routes = " + ".join(f"{r} {w:.2f}" for r, w in decision.routes.items())
        print(f"route: {routes} (router {decision.router}, confidence {decision.confidence:.2f})")
        for reason in decision.reasons:
            print(f"  why: {reason}")
    for rank, hit in enumerate(hits, start=1):
        shown = [*hit.provenance, *(s for s in hit.scores if s not in hit.provenance)]
        parts = ", ".join(f"{src} {hit.scores[src]:.3f} (#{hit.ranks[src]})" for src in shown if src in hit.ranks)
        heading = " > ".join(hit.chunk.heading_path)
        print(f"{rank:>2}. [{hit.score:.4f}] {hit.chunk.id}" + (f"  «{heading}»" if heading else ""))
        print(f"    {parts}")
        print("    " + " ".join(hit.chunk.text.split())[:240])
        print(f"    {_where(hit.chunk.metadata, documents[hit.chunk.document_id])}")
        if "iteration" in hit.evidence:
            print(f"    found in round {hit.evidence['iteration'] + 1}")
        for path in hit.evidence.get("paths", [])[:2]:
            print(f"    path: {path}")
    if not hits:
        lexical = kind == "bm25" and not args.rerank
        scope = "passing the filter " if filters else ""
        print(f"no hits: no passage {scope}shares a term with the query" if lexical else "no hits")
    return 0


def _where(meta: dict, info: dict) -> str:
    """Where the chunk sits (page, lines, anchor) and how fresh its document is."""
    parts = []
    if "page_start" in meta:
        pages = meta["page_start"], meta.get("page_end", meta["page_start"])
        parts.append(f"page {pages[0]}" if pages[0] == pages[1] else f"pages {pages[0]}-{pages[1]}")
    if "line_start" in meta:
        parts.append(f"lines {meta['line_start']}-{meta.get('line_end', meta['line_start'])}")
    if meta.get("anchor"):
        parts.append(f"#{meta['anchor']}")
    parts.append(f"last changed {_age(time.time() - info['updated_at'])} (version {info['version']})")
    return " · ".join(parts)


def _age(seconds: float) -> str:
    """``just now``, ``5 minutes ago``, ``3 days ago``."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n > 1 else ''} ago"
    return "just now"


def _document_json(info: dict) -> dict:
    iso = lambda t: None if t is None else datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds")  # noqa: E731
    return {"version": info["version"], "source": info["source"], "last_changed": iso(info["updated_at"]),
            "first_indexed": iso(info["first_indexed"]), "source_mtime": iso(info["source_mtime"])}
