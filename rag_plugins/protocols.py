"""The roles components play, as Protocols: implementations need no base class."""

from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from rag_plugins.types import Hit

Filters = Mapping[str, Any]


@runtime_checkable
class Retriever(Protocol):
    """Anything that turns a query into ranked hits.

    To write one, subclass :class:`rag_plugins.retrievers.base.BaseRetriever` and implement
    one method, ``_retrieve(query, k, filters) -> list[Hit]`` (the arguments arrive
    checked), with a ``name``. The base class gives the rest for free, as langchain-core's
    ``BaseRetriever`` does: ``retrieve`` (checks the query, ``k`` and the filter, and reads
    one generation of every knowledge base it touches), ``aretrieve`` (the search in a worker
    thread, off the event loop), and ``batch_retrieve`` / ``abatch_retrieve`` (a loop, or
    ``_batch_retrieve`` when a subclass vectorises it). Any object with these methods is a
    retriever without the base class.
    """

    name: str

    def retrieve(self, query: str, k: int = 10, filters: Filters | None = None) -> list[Hit]: ...

    async def aretrieve(
        self, query: str, k: int = 10, filters: Filters | None = None
    ) -> list[Hit]: ...

    def batch_retrieve(
        self, queries: Sequence[str], k: int = 10, filters: Filters | None = None
    ) -> list[list[Hit]]: ...


class IndexedGeneration(Protocol):
    """One committed generation of a knowledge base, as a search reads it
    (:class:`rag_plugins.store.snapshot.Snapshot`)."""

    generation: int
    rows: np.ndarray

    def index(self, kind: str) -> Any:
        """The generation's index of ``kind`` (``bm25``, ``vectors``, ``graph``), or a
        :class:`~rag_plugins.errors.MissingIndexError` saying how to get one."""
        ...

    def has(self, kind: str) -> bool: ...

    def allowed_positions(self, filters: Filters | None) -> np.ndarray | None: ...

    def allowed_rows(self, filters: Filters | None) -> np.ndarray | None: ...


@runtime_checkable
class SearchableBase(Protocol):
    """What the retrievers read from a knowledge base, and all they read: the generation to
    search, query embeddings, and hits made from the chunk rows an index returned.
    :class:`rag_plugins.store.KnowledgeBase` implements it; so can a remote base."""

    path: Any
    embedder: "Embedder | None"
    bm25_statistics: str
    index_kinds: tuple[str, ...]

    def searchable_snapshot(self) -> IndexedGeneration: ...

    def embed_queries(self, queries: Sequence[str]) -> np.ndarray: ...

    def hits(self, rows: np.ndarray, scores: np.ndarray, source: str) -> list[Hit]: ...


class RetrieverCatalog(Protocol):
    """Builds a retriever of a named kind over a base (:data:`rag_plugins.catalog.CATALOG`)."""

    def build(self, kind: str, kb: SearchableBase, /, **options: Any) -> Retriever: ...


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
