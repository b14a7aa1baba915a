"""Processes for the re-index tests.

    python reindex_worker.py serve PATH        search read-only in a loop until PATH.stop appears,
                                               printing each search's time, generation, model and top
                                               hit as a JSON line
    python reindex_worker.py reindex PATH MODEL  re-embed with MODEL slowly (one line per slice of 256
                                               chunks, then a pause), for kill -9 to interrupt
    python reindex_worker.py peek PATH         print the committed generation and document count
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def serve(path: str) -> None:
    from rag_plugins import KnowledgeBase

    stop = Path(path + ".stop")
    with KnowledgeBase.open(path, read_only=True, show_progress=False) as kb:
        dense = kb.dense_retriever()
        dense.retrieve("warm up", k=1)
        print("serving", flush=True)
        while not stop.exists():
            try:
                hits = dense.retrieve("which animal purrs", k=2)
                seen = [time.time(), kb.generation, kb.embedder.model_id, hits[0].document_id if hits else None]
                print(json.dumps({"seen": seen}), flush=True)
            except Exception as exc:  # noqa: BLE001 - the test reports whatever went wrong
                print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
            time.sleep(0.02)


class SlowEmbedder:
    """A real model that announces each slice it embeds and then pauses."""

    def __init__(self, inner):
        self.inner = inner
        for name in ("model_id", "dimension", "normalize", "fingerprint", "max_seq_length"):
            setattr(self, name, getattr(inner, name))

    def count_tokens(self, text):
        return self.inner.count_tokens(text)

    def embed_documents(self, texts):
        out = self.inner.embed_documents(texts)
        print(f"embedded {len(texts)}", flush=True)
        time.sleep(1.0)
        return out

    def embed_queries(self, texts):
        return self.inner.embed_queries(texts)


def reindex(path: str, model: str) -> None:
    from rag_plugins import KnowledgeBase
    from rag_plugins.embeddings import SentenceTransformerEmbedder

    with KnowledgeBase.open(path, show_progress=False) as kb:
        entry = kb.reindex(SlowEmbedder(SentenceTransformerEmbedder(model, device="cpu")))
        print(f"pending {entry.generation}", flush=True)


def peek(path: str) -> None:
    from rag_plugins import KnowledgeBase

    with KnowledgeBase.open(path, read_only=True, show_progress=False) as kb:
        print(json.dumps({"generation": kb.generation, "documents": len(kb)}), flush=True)


if __name__ == "__main__":
    {"serve": serve, "reindex": reindex, "peek": peek}[sys.argv[1]](*sys.argv[2:])
