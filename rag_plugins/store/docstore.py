"""The SQLite document store: documents, chunks, settings and the embedding cache.

SQLite's transaction is the knowledge base's commit point: the committed generation
number lives in the ``meta`` table and changes in the same transaction as the rows.

Chunk rows are never rewritten: a commit marks the rows it replaces ``retired`` (with the
generation that dropped them) and inserts new rows, so a reader still on an older
generation reads exactly that generation's chunks. Retired rows are purged by the writer
once no generation that shows them is left (see :mod:`rag_plugins.store.locks`).

Every read is verified (:mod:`rag_plugins.store.integrity`) and every SQLite, JSON or
decoding failure surfaces as :class:`~rag_plugins.errors.IndexCorruptedError` naming the
file, never as a raw ``sqlite3`` error.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple, Sequence

import numpy as np

from rag_plugins.errors import (
    IndexCorruptedError,
    KnowledgeBaseLockedError,
    RagPluginsError,
    ReadOnlyKnowledgeBaseError,
)
from rag_plugins.store.integrity import (
    chunk_checksum,
    document_hash,
    document_row_checksum,
    extraction_checksum,
    text_digest,
    vector_checksum,
)
from rag_plugins.store.sources import (
    SOURCES_SCHEMA, SourceRecord, all_source_mtimes, document_times, read_source_checks, read_sources, write_document_times,
    write_sources,
)
from rag_plugins.types import Chunk, Document

SCHEMA = SOURCES_SCHEMA + """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY, text TEXT NOT NULL, metadata TEXT NOT NULL,
    content_hash TEXT NOT NULL, version INTEGER NOT NULL, updated_at REAL NOT NULL, checksum TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    row INTEGER PRIMARY KEY, id TEXT NOT NULL, document_id TEXT NOT NULL,
    position INTEGER NOT NULL, text TEXT NOT NULL, metadata TEXT NOT NULL,
    text_sha TEXT NOT NULL, checksum TEXT NOT NULL, added INTEGER NOT NULL, retired INTEGER);
CREATE UNIQUE INDEX IF NOT EXISTS chunks_live_id ON chunks(id) WHERE retired IS NULL;
CREATE INDEX IF NOT EXISTS chunks_live_by_document ON chunks(document_id) WHERE retired IS NULL;
CREATE INDEX IF NOT EXISTS chunks_retired ON chunks(retired) WHERE retired IS NOT NULL;
CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL, checksum TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS extractions (key TEXT PRIMARY KEY, extraction TEXT NOT NULL, checksum TEXT NOT NULL);
"""
_BATCH = 500


class ChunkRecord(NamedTuple):
    """A chunk as stored: what is written, and what the checksums cover."""

    row: int
    chunk: Chunk
    metadata_json: str
    text_sha: str
    checksum: str

    @classmethod
    def of(cls, row: int, chunk: Chunk) -> "ChunkRecord":
        meta = json.dumps(dict(chunk.metadata))
        sha = text_digest(chunk.text)
        return cls(row, chunk, meta, sha, chunk_checksum(row, chunk.id, chunk.document_id, chunk.position, sha, meta))


def _batches(items: Sequence[Any], size: int = _BATCH) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _marks(batch: Sequence[Any]) -> str:
    return ",".join("?" * len(batch))


class DocumentStore:
    """Thread-safe access to ``kb.sqlite``; every method takes the store's lock.

    ``read_only`` opens the file with SQLite's ``mode=ro``: nothing this object does can
    change it.
    """

    def __init__(self, path: Path, read_only: bool = False):
        self.path = path
        self.read_only = read_only
        self.lock = threading.RLock()
        try:
            if read_only:
                self._conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                             check_same_thread=False, isolation_level=None, timeout=30)
            else:
                self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None,
                                             timeout=30)
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            raise self._damaged(exc) from exc

    def create_schema(self) -> None:
        with self._guard() as conn:
            conn.executescript(SCHEMA)

    def add_missing_tables(self) -> None:
        """Create the tables added since the base was written (a sync's ``sources`` and
        ``document_times``); a writer does this on open, and readers treat them as empty."""
        with self._guard() as conn:
            conn.executescript(SOURCES_SCHEMA)

    def close(self) -> None:
        with self.lock:
            self._conn.close()

    @contextmanager
    def _guard(self) -> Iterator[sqlite3.Connection]:
        """The connection under the store's lock, with every storage failure typed."""
        with self.lock:
            try:
                yield self._conn
            except RagPluginsError:
                raise
            except (sqlite3.Error, ValueError, UnicodeError) as exc:  # ValueError: bad JSON
                raise self._damaged(exc) from exc

    def _damaged(self, exc: Exception) -> RagPluginsError:
        text = str(exc)
        if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
            return KnowledgeBaseLockedError(
                f"{self.path} stayed locked by another connection for 30 s ({text}); retry, or "
                "find the process that holds a transaction open"
            )
        if isinstance(exc, sqlite3.OperationalError) and "readonly" in text:
            return ReadOnlyKnowledgeBaseError(f"{self.path} is open read-only ({text})")
        return IndexCorruptedError(
            f"{self.path} is damaged: {type(exc).__name__}: {text}. Nothing was served from it; "
            "restore the knowledge base from a backup or rebuild it in a new directory"
        )

    def _mismatch(self, what: str) -> IndexCorruptedError:
        return IndexCorruptedError(
            f"{self.path}: {what} does not match its checksum; the file is damaged. Nothing was "
            "served from it; restore the knowledge base from a backup or rebuild it in a new directory"
        )

    # settings -----------------------------------------------------------------------
    def get_meta(self, key: str, default: Any = None) -> Any:
        with self._guard() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
            return default if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        with self._guard() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def has_schema(self) -> bool:
        with self._guard() as conn:
            return conn.execute("SELECT 1 FROM sqlite_master WHERE name='meta'").fetchone() is not None

    def data_version(self) -> int:
        """Changes whenever another connection commits (SQLite's ``PRAGMA data_version``)."""
        with self._guard() as conn:
            return int(conn.execute("PRAGMA data_version").fetchone()[0])

    def integrity_check(self) -> None:
        """SQLite's own check of every page and every index against its table; raise when
        it finds damage."""
        with self._guard() as conn:
            problems = [r[0] for r in conn.execute("PRAGMA integrity_check(5)")]
        if problems != ["ok"]:
            raise IndexCorruptedError(
                f"{self.path} fails SQLite's integrity check ({'; '.join(problems)}). Nothing was "
                "served from it; restore the knowledge base from a backup or rebuild it"
            )

    # documents ----------------------------------------------------------------------
    def _verified(self, doc_id: str, content_hash: str, version: int, updated_at: float, checksum: str) -> None:
        if document_row_checksum(doc_id, content_hash, version, updated_at) != checksum:
            raise self._mismatch(f"document {doc_id!r}")

    def hashes(self, ids: Sequence[str]) -> dict[str, tuple[str, int]]:
        out: dict[str, tuple[str, int]] = {}
        with self._guard() as conn:
            for batch in _batches(list(ids)):
                q = ("SELECT id, content_hash, version, updated_at, checksum FROM documents "
                     f"WHERE id IN ({_marks(batch)})")
                for doc_id, h, v, at, checksum in conn.execute(q, batch):
                    self._verified(doc_id, h, v, at, checksum)
                    out[doc_id] = (h, v)
        return out

    def get_document(self, doc_id: str) -> Document | None:
        with self._guard() as conn:
            row = conn.execute(
                "SELECT id, text, metadata, content_hash, version, updated_at, checksum FROM documents "
                "WHERE id=?", (doc_id,)
            ).fetchone()
            if row is None:
                return None
            doc = Document(row[0], row[1], json.loads(row[2]))
        self._verified(row[0], *row[3:])
        if row[0] != doc_id or document_hash(doc.text, doc.metadata) != row[3]:
            raise self._mismatch(f"document {doc_id!r}")
        return doc

    def document_info(self, doc_id: str) -> dict[str, Any] | None:
        with self._guard() as conn:
            row = conn.execute(
                "SELECT id, content_hash, version, updated_at, checksum FROM documents WHERE id=?", (doc_id,)
            ).fetchone()
        if row is None:
            return None
        self._verified(*row)
        with self._guard() as conn:
            times = document_times(conn, doc_id)
        first_indexed, source_mtime = times or (None, None)
        return {"content_hash": row[1], "version": row[2], "updated_at": row[3], "first_indexed": first_indexed,
                "source_mtime": source_mtime}

    def document_freshness(self) -> dict[str, tuple[int, float, float | None]]:
        """Every document's ``(version, last changed, source mtime or None)``, verified."""
        out = {}
        with self._guard() as conn:
            rows = conn.execute("SELECT id, content_hash, version, updated_at, checksum FROM documents").fetchall()
            mtimes = all_source_mtimes(conn)
        for row in rows:
            self._verified(*row)
            out[row[0]] = (row[2], row[3], mtimes.get(row[0]))
        return out

    def chunk_freshness(self, chunk_ids: Sequence[str], generation: int) -> dict[str, dict[str, Any]]:
        """The freshness stamps (``document_version``, ``document_changed_at``, ...) of the
        chunks ``chunk_ids`` as generation ``generation`` showed them, for those still kept
        and stamped."""
        out: dict[str, dict[str, Any]] = {}
        with self._guard() as conn:
            for batch in _batches(list(dict.fromkeys(chunk_ids))):
                q = ("SELECT row, id, document_id, position, metadata, text_sha, checksum FROM chunks "
                     f"WHERE id IN ({_marks(batch)}) AND added <= ? AND (retired IS NULL OR retired > ?)")
                for row, cid, did, pos, meta, sha, checksum in conn.execute(q, [*batch, generation, generation]):
                    if chunk_checksum(row, cid, did, pos, sha, meta) != checksum:
                        raise self._mismatch(f"chunk {cid!r} (row {row})")
                    stamps = {k: v for k, v in json.loads(meta).items() if k.startswith("document_")}
                    if "document_changed_at" in stamps:
                        out[cid] = stamps
        return out

    def sources(self) -> dict[str, SourceRecord]:
        """What the last sync saw of each source file (see :mod:`rag_plugins.store.sources`)."""
        with self._guard() as conn:
            return read_sources(conn)

    def write_sources(self, changes: Mapping[str, SourceRecord | None], checked: Mapping[str, float] | None = None
                      ) -> None:
        """Record a sync that changed no document (files touched, their content the same;
        ``checked``: when it looked at each source)."""
        with self.transaction() as conn:
            write_sources(conn, changes, checked)

    def source_checks(self, path: str | None = None) -> dict[str, float]:
        """When a sync last looked at each source (or at ``path`` alone)."""
        with self._guard() as conn:
            return read_source_checks(conn, path)

    def document_ids(self) -> list[str]:
        with self._guard() as conn:
            return [r[0] for r in conn.execute("SELECT id FROM documents ORDER BY id")]

    def count_documents(self) -> int:
        with self._guard() as conn:
            return conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]

    # chunks -------------------------------------------------------------------------
    def rows_of_documents(self, doc_ids: Sequence[str]) -> np.ndarray:
        """Rows of the live (not retired) chunks of ``doc_ids``."""
        rows: list[int] = []
        with self._guard() as conn:
            for batch in _batches(list(doc_ids)):
                q = f"SELECT row FROM chunks WHERE retired IS NULL AND document_id IN ({_marks(batch)})"
                rows.extend(r[0] for r in conn.execute(q, batch))
        return np.asarray(sorted(rows), dtype=np.int64)

    def chunks_by_row(self, rows: Iterable[int]) -> dict[int, Chunk]:
        """Chunks by row, retired ones included (a reader's generation may still show
        them); each text is verified against its checksum."""
        rows = [int(r) for r in rows]
        out: dict[int, Chunk] = {}
        with self._guard() as conn:
            for batch in _batches(rows):
                q = ("SELECT row, id, document_id, position, text, metadata, text_sha, checksum "
                     f"FROM chunks WHERE row IN ({_marks(batch)})")
                for row, cid, did, pos, text, meta, sha, checksum in conn.execute(q, batch):
                    if text_digest(text) != sha or chunk_checksum(row, cid, did, pos, sha, meta) != checksum:
                        raise self._mismatch(f"chunk {cid!r} (row {row})")
                    out[row] = Chunk(cid, did, text, pos, json.loads(meta))
        return out

    def live_chunks_by_id(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        """The live (newest committed) chunks among ``chunk_ids``, by id, each verified."""
        rows: list[int] = []
        with self._guard() as conn:
            for batch in _batches(list(dict.fromkeys(chunk_ids))):
                q = f"SELECT row FROM chunks WHERE retired IS NULL AND id IN ({_marks(batch)})"
                rows.extend(r[0] for r in conn.execute(q, batch))
        return {chunk.id: chunk for chunk in self.chunks_by_row(rows).values()}

    def texts_by_row(self, rows: Sequence[int]) -> dict[int, str]:
        """Chunk texts by row, unverified: the caller checks each against the digest it holds."""
        out: dict[int, str] = {}
        with self._guard() as conn:
            for batch in _batches([int(r) for r in rows]):
                out.update(conn.execute(f"SELECT row, text FROM chunks WHERE row IN ({_marks(batch)})", batch))
        return out

    def chunk_metadata(self, generation: int) -> tuple[np.ndarray, list[tuple[str, str, dict, int, str]], list[str]]:
        """Rows (ascending), (chunk id, document id, metadata, position, text digest) and
        checksums of the chunks generation ``generation`` shows; every row's checksum is verified."""
        rows: list[int] = []
        info: list[tuple[str, str, dict, int, str]] = []
        checksums: list[str] = []
        with self._guard() as conn:
            cur = conn.execute(
                "SELECT row, id, document_id, position, metadata, text_sha, checksum FROM chunks "
                "WHERE added <= ? AND (retired IS NULL OR retired > ?) ORDER BY row",
                (generation, generation))
            for row, cid, did, pos, meta, sha, checksum in cur:
                if chunk_checksum(row, cid, did, pos, sha, meta) != checksum:
                    raise self._mismatch(f"chunk {cid!r} (row {row})")
                rows.append(row)
                info.append((cid, did, json.loads(meta), pos, sha))
                checksums.append(checksum)
        return np.asarray(rows, dtype=np.int64), info, checksums

    def max_row(self) -> int:
        with self._guard() as conn:
            value = conn.execute("SELECT MAX(row) FROM chunks").fetchone()[0]
        return -1 if value is None else int(value)

    def live_chunk_count(self) -> int:
        with self._guard() as conn:
            return conn.execute("SELECT COUNT(*) FROM chunks WHERE retired IS NULL").fetchone()[0]

    def purge_retired(self, oldest_kept_generation: int) -> int:
        """Writer: delete chunk rows no kept generation shows; returns how many."""
        with self._guard() as conn:
            cur = conn.execute("DELETE FROM chunks WHERE retired IS NOT NULL AND retired <= ?",
                               (oldest_kept_generation,))
            return cur.rowcount

    # embedding cache ----------------------------------------------------------------
    def cached_embeddings(self, keys: Sequence[str], dimension: int) -> dict[str, np.ndarray]:
        """Cached vectors by key; an entry failing its checksum is left out (recomputed)."""
        out: dict[str, np.ndarray] = {}
        with self._guard() as conn:
            for batch in _batches(list(keys)):
                q = f"SELECT key, vector, checksum FROM embeddings WHERE key IN ({_marks(batch)})"
                for key, blob, checksum in conn.execute(q, batch):
                    if not isinstance(blob, bytes) or vector_checksum(key, blob) != checksum:
                        continue
                    vector = np.frombuffer(blob, dtype=np.float32)
                    if vector.shape == (dimension,):
                        out[key] = vector
        return out

    def cache_embeddings(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        if self.read_only:
            return
        blobs = [np.ascontiguousarray(v, dtype=np.float32).tobytes() for v in vectors]
        with self.transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
                             ((k, b, vector_checksum(k, b)) for k, b in zip(keys, blobs)))

    # extraction cache (LLM extractors) -----------------------------------------------
    def cached_extractions(self, keys: Sequence[str]) -> dict[str, dict]:
        out: dict[str, dict] = {}
        with self._guard() as conn:
            for batch in _batches(list(keys)):
                q = f"SELECT key, extraction, checksum FROM extractions WHERE key IN ({_marks(batch)})"
                for key, value, checksum in conn.execute(q, batch):
                    if extraction_checksum(key, value) == checksum:
                        out[key] = json.loads(value)
        return out

    def cache_extractions(self, items: dict[str, dict]) -> None:
        if self.read_only:
            return
        values = {k: json.dumps(v, ensure_ascii=False) for k, v in items.items()}
        with self.transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO extractions VALUES (?, ?, ?)",
                             ((k, v, extraction_checksum(k, v)) for k, v in values.items()))

    # the commit -----------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any error."""
        with self._guard() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def switch_generation(self, expected: int, meta: Mapping[str, Any], drop: Sequence[str] = ()) -> None:
        """Make another generation current: write ``meta`` (the generation number, its
        settings, the standby records) and remove the ``drop`` keys, in one transaction,
        provided generation ``expected`` is still the current one."""
        with self.transaction() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
            if row is None or json.loads(row[0]) != expected:
                raise IndexCorruptedError(f"{self.path} changed underneath this writer (generation {expected} is no "
                                          "longer current); nothing was switched. Close and reopen the base")
            conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", ((k, json.dumps(v)) for k, v in meta.items()))
            conn.executemany("DELETE FROM meta WHERE key=?", ((k,) for k in drop))

    def apply_commit(
        self,
        generation: int,
        delete_doc_ids: Sequence[str],
        upserts: Sequence[tuple[Document, str, int]],
        records: Sequence[ChunkRecord],
        meta: dict[str, Any],
        sources: Mapping[str, SourceRecord | None] | None = None,
        source_mtimes: Mapping[str, float] | None = None,
        before_commit: Callable[[], None] | None = None,
        now: float | None = None,
        checked: Mapping[str, float] | None = None,
    ) -> None:
        """Publish generation ``generation``: retire the replaced chunks, replace the
        documents, add the new chunks and record ``meta`` (and a sync's ``sources``), in one
        transaction. ``before_commit`` runs inside it, seeing the new rows that no other
        connection sees yet; if it raises, the transaction is rolled back. ``now`` is the
        documents' last-changed time; ``checked`` when a sync looked at each source."""
        now = time.time() if now is None else now
        with self.transaction() as conn:
            write_sources(conn, sources or {}, checked)
            write_document_times(conn, [d.id for d, _, _ in upserts], delete_doc_ids, now, source_mtimes or {})
            touched = list(delete_doc_ids) + [d.id for d, _, _ in upserts]
            for batch in _batches(touched):
                conn.execute(f"UPDATE chunks SET retired=? WHERE retired IS NULL AND document_id IN "
                             f"({_marks(batch)})", [generation, *batch])
                conn.execute(f"DELETE FROM documents WHERE id IN ({_marks(batch)})", batch)
            conn.executemany(
                "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?)",
                ((d.id, d.text, json.dumps(dict(d.metadata)), h, v, now, document_row_checksum(d.id, h, v, now))
                 for d, h, v in upserts),
            )
            conn.executemany(
                "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                ((r.row, r.chunk.id, r.chunk.document_id, r.chunk.position, r.chunk.text, r.metadata_json,
                  r.text_sha, r.checksum, generation) for r in records),
            )
            conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                             ((k, json.dumps(v)) for k, v in meta.items()))
            if before_commit is not None:
                before_commit()
