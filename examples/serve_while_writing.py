"""Search a knowledge base while another process writes it.

    python examples/serve_while_writing.py [--kb DIR] [--limit 40]

A sync job (a second process started here) adds the demo paragraphs in batches, one
commit per batch. Meanwhile this process searches the same base opened read-only, the way
an MCP server or an API would: each search reads one complete generation, and the reader
moves to the newest one by itself. A second writer is refused with the holder's pid, and
a writer killed with ``kill -9`` in the middle of its work leaves the last commit intact.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _kb import CORPUS, example_parser, kb_directory  # noqa: E402

from rag_plugins import KnowledgeBase  # noqa: E402
from rag_plugins.errors import KnowledgeBaseLockedError  # noqa: E402
from rag_plugins.loaders import load_documents  # noqa: E402

QUESTION = "when was the New York Society of Model Engineers incorporated"
BATCH = 10


def sync_job(directory: Path, limit: int, pause: float) -> None:
    """The writer: one commit per batch of paragraphs (BM25 only, so no model is needed)."""
    documents = list(load_documents([CORPUS]))[:limit]
    with KnowledgeBase.open(directory, show_progress=False) as kb:
        for start in range(0, len(documents), BATCH):
            kb.upsert(documents[start : start + BATCH])
            result = kb.commit()
            print(f"writer: committed generation {result.generation} ({len(kb)} documents)", flush=True)
            time.sleep(pause)


def start_writer(directory: Path, limit: int, pause: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--kb", str(directory), "--limit", str(limit),
                             "--writer", str(pause)], stdout=subprocess.PIPE, text=True)


def main() -> None:
    parser = example_parser(__doc__)
    parser.add_argument("--writer", type=float, help=argparse.SUPPRESS)  # run as the sync job
    args = parser.parse_args()
    directory = kb_directory(args, "serve")
    if args.writer is not None:
        sync_job(directory, args.limit, args.writer)
        return

    writer = start_writer(directory, args.limit, pause=0.5)
    print(writer.stdout.readline().rstrip())  # the first commit has landed: the base exists
    reader = KnowledgeBase.open(directory, read_only=True)
    try:
        KnowledgeBase.open(directory)
    except KnowledgeBaseLockedError as refused:
        print(f"second writer: {type(refused).__name__}: {str(refused).split('. ')[0]}")
    seen = set()
    while writer.poll() is None or reader.refresh():
        hits = reader.bm25_retriever().retrieve(QUESTION, k=1)
        if reader.generation not in seen:
            seen.add(reader.generation)
            print(f"reader: generation {reader.generation}, {reader.chunk_count} chunks, "
                  f"top hit {hits[0].chunk.metadata.get('title', hits[0].document_id)!r}")
        time.sleep(0.05)
    for line in writer.stdout:
        print(line.rstrip())
    print(f"reader followed {len(seen)} generations without reopening")

    killed = start_writer(directory, args.limit + 2 * BATCH, pause=0.0)
    time.sleep(1.5)
    os.kill(killed.pid, signal.SIGKILL)  # mid-work: maybe between commits, maybe inside one
    killed.communicate()
    reader.close()
    with KnowledgeBase.open(directory) as kb:
        print(f"after kill -9: generation {kb.generation}, {len(kb)} documents, "
              f"{len(kb.bm25_retriever().retrieve(QUESTION, k=3))} hits; the base is whole")


if __name__ == "__main__":
    main()
