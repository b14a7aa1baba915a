"""What every index of a knowledge base implements, and what the store offers it.

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

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from rag_plugins.errors import InvalidInputError
from rag_plugins.types import Chunk


@dataclass(frozen=True)
class IndexChanges:
    """One commit, as the indexes see it: the rows it retires (replaced or deleted
    chunks) and the chunks it adds, with their new rows and the text each index reads."""

    removed_rows: np.ndarray
    added_rows: np.ndarray
    chunks: Sequence[Chunk]
    texts: Sequence[str]


class IndexServices(Protocol):
    """What the store lends an index while it loads or builds a generation: the base's
    settings and its shared, cached work (embedding, entity extraction)."""

    settings: Mapping[str, Any]
    use_gpu: bool | None

    @property
    def has_embedder(self) -> bool: ...

    def show_progress(self, n: int) -> bool | None:
        """Whether a loop over ``n`` items shows a progress bar."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of chunk texts (content-hash cached: each text is embedded once)."""
        ...

    def entity_vectors(self, keys: Sequence[str]) -> np.ndarray:
        """Unit vectors of entity names (cached like :meth:`embed`)."""
        ...

    def extract(self, chunks: Sequence[Chunk]) -> list[Any]:
        """The base's extractor's output for ``chunks`` (cached for LLM extractors)."""
        ...

    def chunk_ids(self, rows: np.ndarray) -> list[str]:
        """The ids of committed chunk rows (what ``removed_rows`` were)."""
        ...


@runtime_checkable
class Index(Protocol):
    """One generation of one index kind. Generations are immutable: :meth:`apply` returns
    the next one and leaves this one as readers see it.

    ``rows`` is the chunk row at each position for indexes that hold every chunk in row
    order (the store checks it against ``kb.sqlite``), or None for those that do not."""

    kind: ClassVar[str]
    rows: np.ndarray | None

    @classmethod
    def wanted(cls, settings: Mapping[str, Any]) -> bool:
        """Whether a base created with ``settings`` has an index of this kind."""
        ...

    @classmethod
    def empty(cls, services: IndexServices) -> "Index":
        """Generation 0: nothing indexed."""
        ...

    @classmethod
    def load(cls, directory: Path, services: IndexServices) -> "Index":
        """The generation saved in ``directory`` (whose manifest has been verified)."""
        ...

    def apply(self, changes: IndexChanges, services: IndexServices) -> "Index":
        """The next generation: this one without ``changes.removed_rows``, with the new chunks."""
        ...

    def save(self, directory: Path) -> list[str]:
        """Write this generation into ``directory``; return the file names written (the
        manifest checksums them, so readers detect damage)."""
        ...

    def bind(self, rows: np.ndarray, chunk_ids: Sequence[str]) -> None:
        """Told, once a generation becomes readable, its chunk rows (ascending; position
        ``i`` of a filter mask is ``rows[i]``) and the chunk id of each."""
        ...

    def search(self, query: Any, k: int, allowed_rows: np.ndarray | None = None,
               **options: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per query of the batch ``query`` (each kind reads its own query type: texts for
        BM25, vectors for FAISS, restart weights for the graph), the best ``k`` chunk rows
        among ``allowed_rows`` (None: all) and their scores, best first."""
        ...

    def describe(self) -> dict[str, Any]:
        """``{"kind", "size", "unit", "settings"}``: what ``kb.describe()`` and the manifest show."""
        ...


class IndexBase:
    """Defaults for an :class:`Index`: holds every chunk (``rows``), needs no binding."""

    kind: ClassVar[str] = ""
    unit: ClassVar[str] = "chunks"
    missing: ClassVar[str] = ""
    """How a base without this kind says so (after "the knowledge base at <path> ")."""
    rows: np.ndarray | None = None

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
