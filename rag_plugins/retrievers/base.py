"""What every retriever shares: argument checks, async off the event loop, batches."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Sequence

from rag_plugins._gc_pause import gc_paused
from rag_plugins._search_scope import one_generation_per_search
from rag_plugins._validation import check_k, check_query
from rag_plugins.errors import NotImplementedByError
from rag_plugins.filters import check_filters
from rag_plugins.protocols import Filters
from rag_plugins.types import Hit


class BaseRetriever:
    """Template: subclasses implement ``_retrieve``; callers use ``retrieve``.

    ``aretrieve`` runs the CPU-bound search in a worker thread, so the event loop keeps
    serving other tasks; ``batch_retrieve`` answers many queries (subclasses vectorise it).
    ``filters`` is None (no filter) or a non-empty filter mapping (:func:`~rag_plugins.filters.check_filters`).
    """

    name: str = "retriever"

    def retrieve(self, query: str, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        check_query(query)
        k = check_k(k)
        check_filters(filters)
        return _one_generation(self._retrieve, query, k, filters)

    async def aretrieve(self, query: str, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        check_query(query)
        k = check_k(k)
        check_filters(filters)
        return await asyncio.to_thread(_one_generation, self._retrieve, query, k, filters)

    def batch_retrieve(
        self, queries: Sequence[str], k: int = 10, filters: Filters | None = None
    ) -> list[list[Hit]]:
        for q in queries:
            check_query(q)
        k = check_k(k)
        check_filters(filters)
        return _one_generation(self._batch_retrieve, list(queries), k, filters)

    async def abatch_retrieve(
        self, queries: Sequence[str], k: int = 10, filters: Filters | None = None
    ) -> list[list[Hit]]:
        return await asyncio.to_thread(self.batch_retrieve, queries, k, filters)

    def _retrieve(self, query: str, k: int, filters: Filters | None) -> list[Hit]:
        raise NotImplementedByError(f"{type(self).__name__} must implement _retrieve(query, k, filters) -> list[Hit]")

    def _batch_retrieve(self, queries: list[str], k: int, filters: Filters | None) -> list[list[Hit]]:
        return [self._retrieve(q, k, filters) for q in queries]


def _one_generation(search: Callable[..., Any], *args: Any) -> Any:
    """Run ``search`` reading one generation of every knowledge base it touches, even
    when it combines several retrievers and a commit lands in between, with the cycle
    collector paused while it builds its hits (:mod:`rag_plugins._gc_pause`)."""
    with one_generation_per_search(), gc_paused():
        return search(*args)
