"""Proof that async calls overlap: wrappers whose work waits at a barrier until ``parties``
calls are inside it at once. If an async path ran its CPU work on the event loop, the
first call would hold the loop at the barrier, the others could never start, and the
barrier would break (``threading.BrokenBarrierError``) after ``timeout`` seconds."""

from __future__ import annotations

import threading
from typing import Any

from rag_plugins.retrievers.base import BaseRetriever


class Rendezvous:
    """``parties`` calls must be inside at once; with ``rounds``, only the first
    ``parties * rounds`` calls meet (later ones, e.g. a loop's further searches, pass)."""

    def __init__(self, parties: int = 2, timeout: float = 20.0, rounds: int | None = None):
        self.barrier = threading.Barrier(parties, timeout=timeout)
        self.threads: set[int] = set()
        self.left = None if rounds is None else parties * rounds
        self.lock = threading.Lock()

    def meet(self) -> None:
        with self.lock:
            self.threads.add(threading.get_ident())
            if self.left is not None:
                if self.left == 0:
                    return
                self.left -= 1
        self.barrier.wait()


class RendezvousRetriever(BaseRetriever):
    """A real retriever whose every search first meets the others at the barrier."""

    def __init__(self, inner: Any, rendezvous: Rendezvous):
        self.inner, self.rendezvous, self.name = inner, rendezvous, inner.name

    def _retrieve(self, query: str, k: int, filters: Any) -> list:
        self.rendezvous.meet()
        return self.inner.retrieve(query, k=k, filters=filters)


class RendezvousReranker:
    """A real reranker whose every call first meets the others at the barrier."""

    def __init__(self, inner: Any, rendezvous: Rendezvous):
        self.inner, self.rendezvous, self.name = inner, rendezvous, inner.name

    def rerank(self, query: str, hits: Any, top_n: int | None = None) -> list:
        self.rendezvous.meet()
        return self.inner.rerank(query, hits, top_n=top_n)
