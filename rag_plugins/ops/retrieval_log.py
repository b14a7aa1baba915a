"""The retrieval log: one row per search, in a bounded SQLite file beside the knowledge base,
written by a background thread so a search never waits on the disk.

Each row holds when the search ran, a fingerprint of the query (its text only when
``store_queries=True``), the retriever and route, the returned chunk and document ids with
their scores, the confidence status, the stage timings, the generation read and a
fingerprint of the filter. The file is SQLite in WAL mode: any number of processes may read
it while others write (each writer process has its own thread and connection; SQLite
serialises their short transactions), and a process killed mid-write leaves it readable,
losing at most the rows still queued in memory. It keeps the newest ``max_rows`` rows.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, NamedTuple, Sequence

from rag_plugins.errors import InvalidInputError, RetrievalLogError
from rag_plugins.ops.fingerprints import filters_fingerprint, query_fingerprint

logger = logging.getLogger("rag_plugins.ops")

FILE_NAME = "retrieval_log.sqlite"
SCHEMA_VERSION = 1
_BATCH = 512
_BUSY_TIMEOUT_MS = 10_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS searches (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    query_hash TEXT NOT NULL,
    query TEXT,
    retriever TEXT NOT NULL,
    route TEXT,
    k INTEGER NOT NULL,
    hits TEXT NOT NULL,
    status TEXT,
    confidence REAL,
    abstained INTEGER NOT NULL,
    timings TEXT NOT NULL,
    generations TEXT NOT NULL,
    filters_hash TEXT NOT NULL,
    pid INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS searches_at ON searches (at);
CREATE TABLE IF NOT EXISTS write_backs (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    question TEXT NOT NULL,
    accepted INTEGER NOT NULL,
    failed_check TEXT,
    reason TEXT
);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    query_hash TEXT NOT NULL,
    query TEXT NOT NULL,
    accepted INTEGER NOT NULL,
    ids TEXT NOT NULL
);
"""
_COLUMNS = ("at, query_hash, query, retriever, route, k, hits, status, confidence, abstained, timings, "
            "generations, filters_hash, pid")


class LoggedHit(NamedTuple):
    chunk_id: str
    document_id: str
    score: float
    content_time: float | None = None
    """When the text returned last changed (its source file's mtime, else when its document
    version was indexed), as the chunk said at search time; None when it did not say."""


@dataclass(frozen=True)
class LoggedSearch:
    """One row of the retrieval log. ``query`` is None unless the log stores query text;
    ``at`` is seconds since the epoch."""

    id: int
    at: float
    query_hash: str
    query: str | None
    retriever: str
    route: dict[str, Any] | None
    k: int
    hits: tuple[LoggedHit, ...]
    status: str | None
    confidence: float | None
    abstained: bool
    timings: dict[str, float]
    generations: tuple[int, ...]
    filters_hash: str
    pid: int

    @property
    def document_ids(self) -> list[str]:
        return [hit.document_id for hit in self.hits]


@dataclass(frozen=True)
class Feedback:
    """A user's verdict on an answer: ``accepted`` or not, and the document or chunk ids
    the answer rested on (what a golden query built from it expects)."""

    at: float
    query: str
    accepted: bool
    ids: tuple[str, ...]


class RetrievalLog:
    """An opt-in log of every search, kept inside the knowledge base directory.

    Pass a knowledge base directory (the log is ``<kb>/retrieval_log.sqlite``) or a file
    path. Hand it to :class:`~rag_plugins.tracing.ObservedRetriever` (or
    ``Toolkit.from_knowledge_base(..., observers=[log])``, ``serve-mcp --retrieval-log``)
    and every search is queued for the writer thread: :meth:`observe` never blocks, and
    when the queue (``queue_size``) is full the row is dropped and counted in
    :attr:`dropped` rather than slowing the search. :meth:`flush` waits for the queue to
    drain; :meth:`close` (also at interpreter exit) flushes and stops the thread.

    >>> import tempfile
    >>> from rag_plugins import Document, KnowledgeBase
    >>> from rag_plugins.tracing import ObservedRetriever
    >>> kb = KnowledgeBase.open(tempfile.mkdtemp())
    >>> _ = kb.upsert([Document("a", "Pears are sweet."), Document("b", "Bolts are steel.")]); _ = kb.commit()
    >>> with RetrievalLog(kb.path, store_queries=True) as log:
    ...     _ = ObservedRetriever(kb.bm25_retriever(), log).retrieve("sweet pears", k=1)
    ...     log.flush()
    ...     [(s.query, s.retriever, s.document_ids, s.generations) for s in log.searches()]
    True
    [('sweet pears', 'bm25', ['a'], (1,))]
    """

    def __init__(self, path: str | os.PathLike[str], *, store_queries: bool = False, max_rows: int = 100_000,
                 queue_size: int = 10_000):
        if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
            raise InvalidInputError(f"max_rows must be a positive integer, got {max_rows!r}")
        if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
            raise InvalidInputError(f"queue_size must be a positive integer, got {queue_size!r}")
        path = Path(path)
        self.path = path / FILE_NAME if path.is_dir() else path
        self.store_queries = store_queries
        self.max_rows = max_rows
        self._queue_size = queue_size
        self._create()
        self._closed = False
        self.dropped = 0
        self.written = 0
        self._lock = threading.Lock()
        self._start()
        atexit.register(self.close)

    def _create(self) -> None:
        for attempt in range(5):
            try:
                found = self._schema_version()
                break
            except sqlite3.OperationalError as exc:
                # two processes opening a new log at once can meet in the switch to WAL, which
                # SQLite answers "locked" without waiting
                if "locked" in str(exc) and attempt < 4:
                    time.sleep(0.05 * (attempt + 1))
                    continue
                raise self._unopenable(exc) from exc
            except (OSError, sqlite3.Error) as exc:
                raise self._unopenable(exc) from exc
        if found != SCHEMA_VERSION:
            raise RetrievalLogError(
                f"the retrieval log {self.path} has format version {found}; this rag-plugins writes version "
                f"{SCHEMA_VERSION}: upgrade rag-plugins, or log to a new file")

    def _schema_version(self) -> int:
        """Create the schema if missing, in one transaction that takes the write lock first (so
        busy_timeout waits out another process creating it too): a reader sees all of it or
        none. The version the file records."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = _connect(self.path)
        try:
            db.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} INSERT OR IGNORE INTO meta VALUES "
                             f"('schema_version', '{SCHEMA_VERSION}'); COMMIT;")
            return int(db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
        finally:
            db.close()

    def _unopenable(self, exc: Exception) -> RetrievalLogError:
        return RetrievalLogError(
            f"cannot open the retrieval log {self.path}: {exc}; give a writable path "
            "(e.g. --retrieval-log /var/log/kb.sqlite for a read-only knowledge base)")

    def _start(self) -> None:
        self._pid = os.getpid()
        self._queue: queue.Queue[Any] = queue.Queue(self._queue_size)
        self._thread = threading.Thread(target=self._write_loop, name="rag-plugins-retrieval-log", daemon=True)
        self._thread.start()

    def observe(self, search: Any) -> None:
        """Queue one finished :class:`~rag_plugins.tracing.TracedSearch`; never blocks."""
        if self._closed:
            self.dropped += 1
            return
        if os.getpid() != self._pid:  # a forked child has no writer thread of its own yet
            with self._lock:
                if os.getpid() != self._pid:
                    self._start()
        try:
            self._queue.put_nowait((search, tuple(search.hits)))
        except queue.Full:
            self.dropped += 1

    def record_feedback(self, query: str, ids: Sequence[str], *, accepted: bool = True) -> None:
        """Record that a user accepted (or rejected) the answer to ``query`` that rested on
        ``ids`` (document or chunk ids): what :func:`~rag_plugins.ops.regression.golden_from_feedback`
        turns into golden queries. Written at once (feedback is rare; searches are queued)."""
        if not isinstance(query, str) or not query.strip():
            raise InvalidInputError(f"feedback needs the query text, got {query!r}")
        if isinstance(ids, str) or not all(isinstance(i, str) and i for i in ids):
            raise InvalidInputError(f"ids must be a list of document or chunk ids, got {ids!r}")
        if accepted and not ids:
            raise InvalidInputError("an accepted answer names the ids it rested on")
        self._write("INSERT INTO feedback (at, query_hash, query, accepted, ids) VALUES (?, ?, ?, ?, ?)",
                    (time.time(), query_fingerprint(query), query, int(bool(accepted)), json.dumps(list(ids))))

    def record_write_back(self, question: str, accepted: bool, failed_check: str | None, reason: str | None) -> None:
        """Record a write-back verdict (``kb.write_back(..., log=log)`` does), the failing
        check of a refusal included; :func:`read_write_backs` reads them."""
        self._write("INSERT INTO write_backs (at, question, accepted, failed_check, reason) VALUES (?, ?, ?, ?, ?)",
                    (time.time(), question, int(bool(accepted)), failed_check, reason))

    def _write(self, sql: str, values: tuple[Any, ...]) -> None:
        db = _connect(self.path)
        try:
            with db:
                db.execute(sql, values)
        except sqlite3.Error as exc:
            raise RetrievalLogError(f"cannot write to {self.path}: {exc}") from exc
        finally:
            db.close()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued search is written (True), or ``timeout`` seconds (False)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline or not self._thread.is_alive():
                return False
            time.sleep(0.005)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (up to ``timeout`` seconds) and stop the writer thread."""
        if self._closed:
            return
        self.flush(timeout)
        self._closed = True
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join(timeout=1.0)
        atexit.unregister(self.close)

    def __enter__(self) -> "RetrievalLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write_loop(self) -> None:
        try:
            db = _connect(self.path)
        except Exception:  # the file went away or lost its permissions: count, never crash a thread
            logger.warning("retrieval log %s cannot be opened for writing; searches go unlogged", self.path,
                           exc_info=True)
            while self._queue.get() is not None:
                self.dropped += 1
                self._queue.task_done()
            self._queue.task_done()
            return
        while True:
            first = self._queue.get()
            batch = [first]
            while len(batch) < _BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            rows = [self._row(*item) for item in batch if item is not None]
            try:
                if rows:
                    self._insert(db, rows)
            except Exception:  # a full disk or a lock held too long: count the loss, keep serving
                self.dropped += len(rows)
                logger.warning("retrieval log %s: could not write %d searches", self.path, len(rows), exc_info=True)
            finally:
                for _ in batch:
                    self._queue.task_done()
            if any(item is None for item in batch):
                db.close()
                return

    def _insert(self, db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
        """One transaction: the batch, and the oldest rows beyond ``max_rows`` gone (the
        primary key is the write order, so that is one range delete)."""
        with db:
            db.executemany(f"INSERT INTO searches ({_COLUMNS}) VALUES ({', '.join('?' * 14)})", rows)
            db.execute("DELETE FROM searches WHERE id <= (SELECT MAX(id) FROM searches) - ?", (self.max_rows,))
        self.written += len(rows)

    def _row(self, search: Any, hits: tuple[Any, ...]) -> tuple[Any, ...]:
        confidence = search.confidence or {}
        return (search.started_at or time.time(), query_fingerprint(search.query),
                search.query if self.store_queries else None, search.retriever, _json(search.route), search.k,
                json.dumps([[h.chunk.id, h.document_id, float(h.score), content_time(h)] for h in hits]),
                confidence.get("status"),
                confidence.get("confidence"), int(bool(search.abstained)), json.dumps(dict(search.timings)),
                json.dumps(list(search.generations)), filters_fingerprint(search.filters), os.getpid())

    def searches(self, *, since: float | None = None, until: float | None = None, retriever: str | None = None,
                 limit: int | None = None) -> list[LoggedSearch]:
        """Logged searches, oldest first: those at or after ``since`` and before ``until``
        (seconds since the epoch), of one ``retriever``, the newest ``limit`` of them."""
        return _select(self.path, since, until, retriever, limit)

    def __len__(self) -> int:
        with _reader(self.path) as db:
            rows = _read(db, "SELECT COUNT(*) FROM searches")
        return int(rows[0][0]) if rows else 0

    def __repr__(self) -> str:
        return f"RetrievalLog({str(self.path)!r}, store_queries={self.store_queries})"


def read_retrieval_log(path: str | os.PathLike[str], **selection: Any) -> list[LoggedSearch]:
    """The searches in the log at ``path`` (a knowledge base directory or the file), read
    without starting a writer: what a report or a monitor replaying the log uses.
    ``selection`` as for :meth:`RetrievalLog.searches`."""
    path = Path(path)
    file = path / FILE_NAME if path.is_dir() else path
    if not file.is_file():
        raise RetrievalLogError(f"no retrieval log at {file}: searches are logged only when a retrieval log is "
                                "enabled (serve-mcp --retrieval-log, RetrievalLog(kb.path))")
    return _select(file, **selection)


def read_feedback(path: str | os.PathLike[str]) -> list[Feedback]:
    """Every feedback record in the log at ``path`` (a base directory or the file), oldest first."""
    path = Path(path)
    file = path / FILE_NAME if path.is_dir() else path
    if not file.is_file():
        raise RetrievalLogError(f"no retrieval log at {file}; feedback is recorded with RetrievalLog.record_feedback")
    with _reader(file) as db:
        rows = _read(db, "SELECT at, query, accepted, ids FROM feedback ORDER BY id")
    return [Feedback(at, query, bool(accepted), tuple(json.loads(ids))) for at, query, accepted, ids in rows]


def read_write_backs(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every write-back verdict in the log at ``path``, oldest first."""
    path = Path(path)
    file = path / FILE_NAME if path.is_dir() else path
    with _reader(file) as db:
        rows = _read(db, "SELECT at, question, accepted, failed_check, reason FROM write_backs ORDER BY id")
    return [{"at": at, "question": q, "accepted": bool(a), "failed_check": f, "reason": r} for at, q, a, f, r in rows]


def _select(path: Path, since: float | None = None, until: float | None = None, retriever: str | None = None,
            limit: int | None = None) -> list[LoggedSearch]:
    where, args = [], []
    for clause, value in (("at >= ?", since), ("at < ?", until), ("retriever = ?", retriever)):
        if value is not None:
            where.append(clause)
            args.append(value)
    sql = f"SELECT id, {_COLUMNS} FROM searches"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    with _reader(path) as db:
        rows = _read(db, sql, args)
    return [_logged(row) for row in reversed(rows)]


def _read(db: sqlite3.Connection, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Rows of a read; none while the log's first writer is still creating it."""
    try:
        return db.execute(sql, args).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise RetrievalLogError(f"cannot read the retrieval log: {exc}") from exc


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.isolation_level = ""  # `with db:` then wraps each batch in one transaction
    return db


class _reader:
    """A short-lived read-only connection (readers never block the writers in WAL mode)."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                      timeout=_BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            raise RetrievalLogError(f"cannot read the retrieval log {self.path}: {exc}") from exc
        return self.db

    def __exit__(self, *exc: object) -> None:
        self.db.close()


def content_time(hit: Any) -> float | None:
    """When a hit's text last changed, from its chunk's freshness stamps."""
    meta = hit.chunk.metadata
    value = meta.get("document_source_mtime", meta.get("document_changed_at"))
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str)


def _logged(row: Iterable[Any]) -> LoggedSearch:
    (id_, at, query_hash, query, retriever, route, k, hits, status, confidence, abstained, timings, generations,
     filters_hash, pid) = row
    return LoggedSearch(id_, at, query_hash, query, retriever, json.loads(route) if route else None, k,
                        tuple(LoggedHit(*hit) for hit in json.loads(hits)), status, confidence, bool(abstained),
                        json.loads(timings), tuple(json.loads(generations)), filters_hash, pid)
