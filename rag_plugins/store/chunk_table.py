"""The chunks one generation shows, in memory and by position, so a search builds its hits
without a SQLite read per hit.

Loading a generation already reads (and verifies) every chunk row's id, document, position,
metadata and text digest. :class:`ChunkTable` keeps them, column by column, in the
snapshot's position order. Texts are the bulk, so they stay on disk: a
:class:`ChunkCache` shared by every generation of one open base (a row never changes)
keeps the most recently returned chunks up to a budget of text characters, and a miss is
read from ``kb.sqlite`` in one query per search and checked against the digest in memory.
Cached chunks are shared between hits: treat ``chunk.metadata`` as read-only (it is typed
``Mapping``).
"""

from __future__ import annotations

import threading
from typing import Any, Sequence

import numpy as np

from rag_plugins.errors import IndexCorruptedError
from rag_plugins.store.integrity import text_digest
from rag_plugins.types import Chunk

CACHE_CHARS = 64_000_000
"""Characters of chunk text an open base keeps in memory by default (about 64 MB of ASCII)."""


class ChunkCache:
    """Verified chunks by row; past ``budget`` text characters the oldest entries go first
    (insertion order: a hit costs no bookkeeping)."""

    def __init__(self, budget: int = CACHE_CHARS):
        self.budget = budget
        self.size = 0
        self._chunks: dict[int, Chunk] = {}
        self._lock = threading.Lock()

    def get_many(self, rows: Sequence[int]) -> dict[int, Chunk]:
        get = self._chunks.get  # a dict read is atomic: no lock needed to look up
        return {row: chunk for row in rows if (chunk := get(row)) is not None}

    def put_many(self, chunks: dict[int, Chunk]) -> None:
        if self.budget <= 0:
            return
        with self._lock:
            for row, chunk in chunks.items():
                if row not in self._chunks:
                    self._chunks[row] = chunk
                    self.size += len(chunk.text)
            while self.size > self.budget and self._chunks:
                oldest = next(iter(self._chunks))
                self.size -= len(self._chunks.pop(oldest).text)


class ChunkTable:
    """Per position of one generation: chunk id, document id, position, metadata and text
    digest; :meth:`chunks` turns rows into :class:`Chunk` objects."""

    def __init__(self, rows: np.ndarray, info: Sequence[tuple[str, str, dict, int, str]], store: Any,
                 cache: ChunkCache):
        self.rows = rows
        self.ids = [i[0] for i in info]
        self.document_ids = [i[1] for i in info]
        self.metadata = [i[2] for i in info]
        self.positions = [i[3] for i in info]
        self.text_shas = [i[4] for i in info]
        self.store = store
        self.cache = cache

    def chunks(self, rows: np.ndarray) -> list[Chunk]:
        """The chunks of ``rows`` (all shown by this generation), in the order given."""
        rows = np.asarray(rows, dtype=np.int64)
        where = np.searchsorted(self.rows, rows)
        if len(rows) and (where.max(initial=0) >= len(self.rows) or not np.array_equal(self.rows[where], rows)):
            missing = sorted(set(rows.tolist()) - set(self.rows.tolist()))
            raise IndexCorruptedError(f"the index returned chunk rows {missing[:5]} that its generation does not "
                                      "show; restore the knowledge base from a backup or rebuild it")
        wanted = rows.tolist()
        found = self.cache.get_many(wanted)
        missing = [(r, p) for r, p in zip(wanted, where.tolist()) if r not in found]
        if missing:
            read = self.store.texts_by_row([r for r, _ in missing])
            fresh = {}
            for row, position in missing:
                text = read.get(row)
                if text is None or text_digest(text) != self.text_shas[position]:
                    raise IndexCorruptedError(
                        f"{self.store.path}: the text of chunk {self.ids[position]!r} (row {row}) is missing or "
                        "does not match its checksum; restore the knowledge base from a backup or rebuild it")
                fresh[row] = Chunk(self.ids[position], self.document_ids[position], text, self.positions[position],
                                   self.metadata[position])
            self.cache.put_many(fresh)
            found.update(fresh)
        return [found[r] for r in wanted]
