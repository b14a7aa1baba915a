"""The SQLite document store: documents, chunks, settings and the embedding cache.

SQLite's transaction is the knowledge base's commit point: the committed generation
number lives in the ``meta`` table and changes in the same transaction as the rows.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from rag_plugins.errors import IndexCorruptedError
from rag_plugins.types import Chunk, Document

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY, text TEXT NOT NULL, metadata TEXT NOT NULL,
    content_hash TEXT NOT NULL, version INTEGER NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    row INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, document_id TEXT NOT NULL,
    position INTEGER NOT NULL, text TEXT NOT NULL, metadata TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_by_document ON chunks(document_id);
CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS extractions (key TEXT PRIMARY KEY, extraction TEXT NOT NULL);
"""
_BATCH = 500


def _batches(items: Sequence[Any], size: int = _BATCH) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class DocumentStore:
    """Thread-safe access to ``kb.sqlite``; every method takes the store's lock."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise IndexCorruptedError(
                f"{path} is not a readable SQLite database ({exc}); the knowledge base is "
                "damaged: restore it from a backup or rebuild it in a new directory"
            ) from exc
        self.lock = threading.RLock()

    def close(self) -> None:
        with self.lock:
            self._conn.close()

    # settings -----------------------------------------------------------------------
    def get_meta(self, key: str, default: Any = None) -> Any:
        with self.lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        with self.lock:
            self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    # documents ----------------------------------------------------------------------
    def hashes(self, ids: Sequence[str]) -> dict[str, tuple[str, int]]:
        out: dict[str, tuple[str, int]] = {}
        with self.lock:
            for batch in _batches(list(ids)):
                q = f"SELECT id, content_hash, version FROM documents WHERE id IN ({','.join('?' * len(batch))})"
                for doc_id, h, v in self._conn.execute(q, batch):
                    out[doc_id] = (h, v)
        return out

    def get_document(self, doc_id: str) -> Document | None:
        with self.lock:
            row = self._conn.execute(
                "SELECT id, text, metadata FROM documents WHERE id=?", (doc_id,)
            ).fetchone()
        return None if row is None else Document(row[0], row[1], json.loads(row[2]))

    def document_info(self, doc_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self._conn.execute(
                "SELECT content_hash, version, updated_at FROM documents WHERE id=?", (doc_id,)
            ).fetchone()
        return None if row is None else {"content_hash": row[0], "version": row[1], "updated_at": row[2]}

    def document_ids(self) -> list[str]:
        with self.lock:
            return [r[0] for r in self._conn.execute("SELECT id FROM documents ORDER BY id")]

    def count_documents(self) -> int:
        with self.lock:
            return self._conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]

    # chunks -------------------------------------------------------------------------
    def rows_of_documents(self, doc_ids: Sequence[str]) -> np.ndarray:
        rows: list[int] = []
        with self.lock:
            for batch in _batches(list(doc_ids)):
                q = f"SELECT row FROM chunks WHERE document_id IN ({','.join('?' * len(batch))})"
                rows.extend(r[0] for r in self._conn.execute(q, batch))
        return np.asarray(sorted(rows), dtype=np.int64)

    def chunks_by_row(self, rows: Iterable[int]) -> dict[int, Chunk]:
        rows = [int(r) for r in rows]
        out: dict[int, Chunk] = {}
        with self.lock:
            for batch in _batches(rows):
                q = ("SELECT row, id, document_id, position, text, metadata FROM chunks "
                     f"WHERE row IN ({','.join('?' * len(batch))})")
                for row, cid, did, pos, text, meta in self._conn.execute(q, batch):
                    out[row] = Chunk(cid, did, text, pos, json.loads(meta))
        return out

    def all_chunk_metadata(self) -> tuple[np.ndarray, list[tuple[str, str, dict]]]:
        """Rows (ascending) and (chunk id, document id, metadata) of every chunk."""
        with self.lock:
            cur = self._conn.execute("SELECT row, id, document_id, metadata FROM chunks ORDER BY row")
            rows, info = [], []
            for row, cid, did, meta in cur:
                rows.append(row)
                info.append((cid, did, json.loads(meta)))
        return np.asarray(rows, dtype=np.int64), info

    def max_row(self) -> int:
        with self.lock:
            value = self._conn.execute("SELECT MAX(row) FROM chunks").fetchone()[0]
        return -1 if value is None else int(value)

    # embedding cache ----------------------------------------------------------------
    def cached_embeddings(self, keys: Sequence[str], dimension: int) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        with self.lock:
            for batch in _batches(list(keys)):
                q = f"SELECT key, vector FROM embeddings WHERE key IN ({','.join('?' * len(batch))})"
                for key, blob in self._conn.execute(q, batch):
                    vector = np.frombuffer(blob, dtype=np.float32)
                    if vector.shape == (dimension,):
                        out[key] = vector
        return out

    def cache_embeddings(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        with self.lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO embeddings VALUES (?, ?)",
                    ((k, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vectors)),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    # extraction cache (LLM extractors) -----------------------------------------------
    def cached_extractions(self, keys: Sequence[str]) -> dict[str, dict]:
        out: dict[str, dict] = {}
        with self.lock:
            for batch in _batches(list(keys)):
                q = f"SELECT key, extraction FROM extractions WHERE key IN ({','.join('?' * len(batch))})"
                out.update((key, json.loads(value)) for key, value in self._conn.execute(q, batch))
        return out

    def cache_extractions(self, items: dict[str, dict]) -> None:
        with self.lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany("INSERT OR REPLACE INTO extractions VALUES (?, ?)",
                                       ((k, json.dumps(v, ensure_ascii=False)) for k, v in items.items()))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    # the commit -----------------------------------------------------------------------
    def apply_commit(
        self,
        delete_doc_ids: Sequence[str],
        upserts: Sequence[tuple[Document, str, int]],
        chunk_rows: Sequence[tuple[int, Chunk]],
        meta: dict[str, Any],
    ) -> None:
        """Replace documents and their chunks and record ``meta``, in one transaction."""
        now = time.time()
        with self.lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                touched = list(delete_doc_ids) + [d.id for d, _, _ in upserts]
                for batch in _batches(touched):
                    marks = ",".join("?" * len(batch))
                    self._conn.execute(f"DELETE FROM chunks WHERE document_id IN ({marks})", batch)
                    self._conn.execute(f"DELETE FROM documents WHERE id IN ({marks})", batch)
                self._conn.executemany(
                    "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?)",
                    ((d.id, d.text, json.dumps(dict(d.metadata)), h, v, now) for d, h, v in upserts),
                )
                self._conn.executemany(
                    "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?)",
                    ((row, c.id, c.document_id, c.position, c.text, json.dumps(dict(c.metadata)))
                     for row, c in chunk_rows),
                )
                self._conn.executemany(
                    "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                    ((k, json.dumps(v)) for k, v in meta.items()),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
