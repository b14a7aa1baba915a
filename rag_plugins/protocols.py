"""The roles components play, as Protocols: implementations need no base class."""

from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from rag_plugins.types import Hit

Filters = Mapping[str, Any]


@runtime_checkable
class Retriever(Protocol):
    """Anything that turns a query into ranked hits.

    ``retrieve`` is the one required method; :class:`rag_plugins.retrievers.base.BaseRetriever`
    supplies ``aretrieve`` (off the event loop) and ``batch_retrieve`` on top of it.
    """

    name: str

    def retrieve(self, query: str, k: int = 10, filters: Filters | None = None) -> list[Hit]: ...

    async def aretrieve(
        self, query: str, k: int = 10, filters: Filters | None = None
    ) -> list[Hit]: ...

    def batch_retrieve(
        self, queries: Sequence[str], k: int = 10, filters: Filters | None = None
    ) -> list[list[Hit]]: ...


@runtime_checkable
class Embedder(Protocol):
    """Turns text into fixed-size float32 vectors."""

    model_id: str

    @property
    def dimension(self) -> int: ...

    @property
    def normalize(self) -> bool: ...

    @property
    def fingerprint(self) -> str:
        """Changes whenever the model's weights change, even at the same dimension."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...


class TokenCounter(Protocol):
    def __call__(self, text: str) -> int: ...
