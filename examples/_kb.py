"""The examples' knowledge base: the first paragraphs of the bundled HotpotQA demo corpus,
with dense vectors and a knowledge graph, so every route is there."""

from __future__ import annotations

import argparse
import importlib
import tempfile
from pathlib import Path

from _model import example_embedding_model

from rag_plugins import KnowledgeBase
from rag_plugins.loaders import load_documents

CORPUS = Path(__file__).resolve().parent / "data" / "hotpotqa_paragraphs.jsonl"


def demo_kb(directory: Path, limit: int = 40) -> KnowledgeBase:
    """Open (or build) the base in ``directory``; only new or changed paragraphs are indexed."""
    kb = KnowledgeBase.open(directory, embedder=example_embedding_model(), graph=True, show_progress=True)
    kb.upsert(list(load_documents([CORPUS]))[:limit])
    result = kb.commit()
    print(f"knowledge base {directory}: {len(kb)} documents, {result.chunks_embedded} chunks embedded now")
    return kb


def example_parser(doc: str) -> argparse.ArgumentParser:
    """The options every example takes: ``--kb DIR`` and ``--limit N``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--kb", help="knowledge-base directory (default: a temporary one)")
    parser.add_argument("--limit", type=int, default=40, help="demo paragraphs to index")
    return parser


def kb_directory(args: argparse.Namespace, prefix: str) -> Path:
    return Path(args.kb) if args.kb else Path(tempfile.mkdtemp(prefix=f"rag-plugins-{prefix}-"))


def load_model(spec: str):
    """Call the zero-argument factory ``package.module:factory`` (``--llm``): your model."""
    module, _, factory = spec.partition(":")
    return getattr(importlib.import_module(module), factory)()
