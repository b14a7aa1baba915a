"""The ``rag-plugins`` command: index, query, eval, train-reranker, calibrate, train-router, serve-mcp."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from rag_plugins.cli import eval as eval_command
from rag_plugins.cli import calibrate, index, query, serve_mcp, train_reranker, train_router
from rag_plugins.errors import RagPluginsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag-plugins", description="Production retrieval: index, query, evaluate, train.")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in (index, query, eval_command, train_reranker, calibrate, train_router, serve_mcp):
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except RagPluginsError as exc:
        print(f"rag-plugins: error: {exc}", file=sys.stderr)
        return 2


