"""The defaults and the registry of index kinds (the :class:`~rag_plugins.protocols.Index`
protocol itself lives with the others, in :mod:`rag_plugins.protocols`).

A knowledge base holds one index per kind its settings ask for (BM25, vectors, graph, or a
kind registered later). The store knows them only through :class:`Index`: on every commit
it hands each index the :class:`IndexChanges` and asks for the next generation, saves it
into the new generation folder, and loads it back in readers. An index whose data lives
in a server fits the same protocol: its ``apply`` writes the server-side data of the next
generation (a new collection or partition) without touching the current one, its ``save``
writes a small file naming that collection and generation, and its ``load`` reads the
file and connects.

Adding a kind is one class plus :func:`register_index`; see :mod:`rag_plugins.index.lexical`
for the smallest one.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from rag_plugins.errors import InvalidInputError
from rag_plugins.protocols import Index, IndexServices
from rag_plugins.types import IndexChanges

__all__ = ["INDEX_KINDS", "Index", "IndexBase", "IndexChanges", "IndexServices", "index_kinds_for", "register_index",
           "rows_to_positions"]


class IndexBase:
    """Defaults for an :class:`Index`: holds every chunk (``rows``), needs no binding."""

    kind: ClassVar[str] = ""
    unit: ClassVar[str] = "chunks"
    missing: ClassVar[str] = ""
    """How a base without this kind says so (after "the knowledge base at <path> ")."""
    rows: np.ndarray | None = None
    embeds: ClassVar[bool] = False
    """Whether this kind's data depends on the embedding model (a re-index with another
    model rebuilds it; the others are carried over as they are)."""

    def bind(self, rows: np.ndarray, chunk_ids: Sequence[str]) -> None:
        return None

    def __len__(self) -> int:
        return 0 if self.rows is None else len(self.rows)

    def settings(self) -> dict[str, Any]:
        return {}

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "size": len(self), "unit": self.unit, "settings": self.settings()}


INDEX_KINDS: dict[str, type] = {}
"""Every registered index kind, by name, in registration order (the order commits build them)."""


def register_index(cls: type) -> type:
    """Make ``cls`` (an :class:`Index`) an index kind bases can hold; usable as a decorator."""
    kind = getattr(cls, "kind", "")
    if not isinstance(kind, str) or not kind:
        raise InvalidInputError(f"{cls.__name__} needs a class attribute kind = '<name>' to be registered")
    missing = [m for m in ("wanted", "empty", "load", "apply", "save", "bind", "search", "describe")
               if not callable(getattr(cls, m, None))]
    if missing:
        raise InvalidInputError(f"{cls.__name__} does not implement the Index protocol: missing {missing}")
    INDEX_KINDS[kind] = cls
    return cls


def index_kinds_for(settings: Mapping[str, Any]) -> list[type]:
    """The index kinds a base with ``settings`` holds, in build order."""
    return [cls for cls in INDEX_KINDS.values() if cls.wanted(settings)]


def rows_to_positions(rows: np.ndarray, allowed_rows: np.ndarray | None) -> np.ndarray | None:
    """Positions of ``allowed_rows`` in ``rows`` (ascending, as every index keeps them)."""
    if allowed_rows is None:
        return None
    allowed_rows = np.asarray(allowed_rows, dtype=np.int64)
    positions = np.searchsorted(rows, allowed_rows)
    found = positions < len(rows)
    found[found] = rows[positions[found]] == allowed_rows[found]
    return positions[found]
