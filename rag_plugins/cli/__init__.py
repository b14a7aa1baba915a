"""The ``rag-plugins`` command: index, sync, query, eval, train-reranker, calibrate, train-router, serve-mcp,
regress, golden, reindex, ops report."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import NoReturn, Sequence

from rag_plugins.cli import eval as eval_command
from rag_plugins.cli import calibrate, golden, index, ops, query, regress, reindex, serve_mcp, sync, train_reranker, \
    train_router
from rag_plugins._model_files import hub_offline
from rag_plugins.errors import RagPluginsError


class OneLineErrorParser(argparse.ArgumentParser):
    """A usage error is one line naming the fix (argparse prints the whole usage first);
    subcommands' parsers are of this class too."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from rag_plugins import __version__

    parser = OneLineErrorParser(prog="rag-plugins", description="Production retrieval: index, query, evaluate, train.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in (index, sync, query, eval_command, train_reranker, calibrate, train_router, serve_mcp, regress,
                    golden, reindex, ops):
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; an error is one line on stderr and exit 2, Ctrl-C is exit 130, SIGTERM 143."""
    args = build_parser().parse_args(argv)
    # faiss logs which CPU build it loaded ("Could not load library with AVX512 support") at INFO
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    if hub_offline():
        # asked for: every load by id would otherwise warn "Could not reach the Hub ... offline mode"
        logging.getLogger("huggingface_hub.hf_api").setLevel(logging.ERROR)
    previous = _stop_on_sigterm()
    try:
        return args.func(args)
    except RagPluginsError as exc:
        print(f"rag-plugins: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        verb = "terminated" if isinstance(exc, Terminated) else "interrupted"
        print(f"rag-plugins: {verb}; {INTERRUPTED.get(args.command, 'stopped before finishing')}", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``docker stop``, systemd): unwinds like Ctrl-C, so a staged commit is
    rolled back and a ``sync --watch`` process stops with one line, not a traceback (``serve-mcp``
    exits at once on either signal while serving)."""


def _raise_terminated(signum: int, frame: object) -> NoReturn:
    raise Terminated()


def _stop_on_sigterm() -> object | None:
    """Install the SIGTERM handler for this command; the handler it replaced, or None where
    signals cannot be set (not the main thread, as when a test or a host app calls ``main``)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)


# what an interrupted command leaves behind (a commit is all or nothing)
INTERRUPTED = {
    "reindex": "nothing was switched, but the embeddings computed so far are cached: run the same command again "
               "to continue",
    "index": "nothing was committed, but the embeddings computed so far are cached: "
             "run the same command again to continue",
    "eval": "run the same command again; an --index-dir base keeps the embeddings computed so far",
    "serve-mcp": "server stopped",
}


