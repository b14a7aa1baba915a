"""One committed generation's in-memory indexes, read by retrievers without locks."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from rag_plugins.errors import MissingIndexError
from rag_plugins.filters import MetadataIndex
from rag_plugins.index.base import INDEX_KINDS, Index

GENERATED = "generated"
"""The metadata key that marks generated text (what ``kb.write_back`` adds)."""

if TYPE_CHECKING:
    from rag_plugins.store.locks import GenerationLease



@dataclass(frozen=True)
class Snapshot:
    """Position ``i`` of every index that holds all chunks, and of the metadata index, is
    chunk row ``rows[i]``. ``indexes`` maps each index kind the base holds to its generation."""

    generation: int
    rows: np.ndarray
    indexes: Mapping[str, Index]
    metadata: MetadataIndex
    checksums: np.ndarray | None = None
    """Per position, the chunk row's checksum (what the manifest's chunk digest covers)."""
    lease: "GenerationLease | None" = None
    """Keeps this generation's files and chunk rows from being collected while in use."""
    path: Any = None
    embeddings: Any = None
    """The :class:`~rag_plugins.store.embedding_cache.EmbeddingCache` of the model this
    generation was embedded with (queries searching it are embedded by the same model)."""
    hidden: np.ndarray | None = None
    """Per position, whether the chunk is left out of searches that do not ask for it:
    generated text written back (metadata ``generated``), unless the base opted in. None
    when nothing is hidden."""
    chunks: Any = None
    """The generation's :class:`~rag_plugins.store.chunk_table.ChunkTable`: hits built from memory."""

    def index(self, kind: str) -> Any:
        """The index of ``kind``, or :class:`~rag_plugins.errors.MissingIndexError` saying
        how to build a base that has one."""
        index = self.indexes.get(kind)
        if index is None:
            what = getattr(INDEX_KINDS.get(kind), "missing", "") or (
                f"has no {kind!r} index; the index kinds are fixed when a base is created: build one "
                "with it in a new directory")
            raise MissingIndexError(f"the knowledge base at {self.path} {what}")
        return index

    def has(self, kind: str) -> bool:
        return kind in self.indexes

    def allowed_positions(self, filters: Mapping[str, Any] | None) -> np.ndarray | None:
        """Positions a search under ``filters`` may return; None means all. Hidden chunks
        (generated text) are left out unless the filter names ``generated``."""
        if filters is None:
            return None if self.hidden is None else self._visible
        mask = self.metadata.mask(filters)
        if self.hidden is not None and GENERATED not in filters:
            mask = mask & ~self.hidden
        return np.flatnonzero(mask)

    @cached_property
    def _visible(self) -> np.ndarray:
        return np.flatnonzero(~self.hidden)

    def allowed_rows(self, filters: Mapping[str, Any] | None) -> np.ndarray | None:
        """Chunk rows a search under ``filters`` may return; None (no filter) means all."""
        allowed = self.allowed_positions(filters)
        return None if allowed is None else self.rows[allowed]
