"""What a base knows about the files it was synced from, and when each document arrived.

``sources`` holds one row per source file (or Slack export): its size, modification time
and SHA-256 when last synced, and the ids of the documents it gave. A sync stats each file
against it; only a file whose size or mtime moved is hashed, and only one whose hash moved
is loaded again. ``document_times`` holds each document's first-indexed time and its
source's mtime (the ``documents`` row keeps the last-changed time and the version).
``source_checks`` holds when a sync last looked at each source, changed or not (what the
staleness report reads). The tables change in the commit's transaction, and every row is
checksummed like the others.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from rag_plugins.errors import IndexCorruptedError
from rag_plugins.store.integrity import digest

SOURCES_SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL,
    documents TEXT NOT NULL, first_indexed REAL NOT NULL, changed_at REAL NOT NULL, checksum TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS document_times (
    id TEXT PRIMARY KEY, first_indexed REAL NOT NULL, source_mtime REAL, checksum TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS source_checks (path TEXT PRIMARY KEY, checked_at REAL NOT NULL, checksum TEXT NOT NULL);
"""


@dataclass(frozen=True)
class SourceRecord:
    """One synced source: ``size`` and ``mtime_ns`` as last seen, ``sha256`` of its bytes,
    the ``documents`` it gave, when it was first indexed and when its content last changed."""

    path: str
    size: int
    mtime_ns: int
    sha256: str
    documents: tuple[str, ...]
    first_indexed: float
    changed_at: float

    def row(self) -> tuple:
        values = (self.path, int(self.size), int(self.mtime_ns), self.sha256, json.dumps(list(self.documents)),
                  float(self.first_indexed), float(self.changed_at))
        return (*values, digest(json.dumps(values).encode()))


def _record(row: Sequence[Any]) -> SourceRecord:
    *values, checksum = row
    record = SourceRecord(values[0], values[1], values[2], values[3], tuple(json.loads(values[4])), values[5],
                          values[6])
    if record.row()[-1] != checksum:
        raise IndexCorruptedError(f"the sync record of {values[0]!r} does not match its checksum; "
                                  "run the sync with a fresh base, or restore kb.sqlite from a backup")
    return record


def _has_tables(conn: sqlite3.Connection) -> bool:
    """Whether the base has the tables (a base no writer opened since they were added has not)."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='sources'").fetchone() is not None


def read_sources(conn: sqlite3.Connection) -> dict[str, SourceRecord]:
    if not _has_tables(conn):
        return {}
    return {r.path: r for r in map(_record, conn.execute("SELECT * FROM sources"))}


def write_sources(conn: sqlite3.Connection, changes: Mapping[str, SourceRecord | None],
                  checked: Mapping[str, float] | None = None) -> None:
    """Record a sync's source changes (None: the source is gone) and when it checked each."""
    gone = [(path,) for path, record in changes.items() if record is None]
    conn.executemany("DELETE FROM sources WHERE path=?", gone)
    conn.executemany("DELETE FROM source_checks WHERE path=?", gone)
    conn.executemany("INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (record.row() for record in changes.values() if record is not None))
    conn.executemany("INSERT OR REPLACE INTO source_checks VALUES (?, ?, ?)",
                     (_check_row(path, at) for path, at in (checked or {}).items() if changes.get(path, 0) is not None))


def _check_row(path: str, checked_at: float) -> tuple:
    values = (path, float(checked_at))
    return (*values, digest(json.dumps(values).encode()))


def read_source_checks(conn: sqlite3.Connection, path: str | None = None) -> dict[str, float]:
    """When a sync last looked at each source, or at ``path`` alone (sources synced before
    this was recorded: absent)."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='source_checks'").fetchone() is None:
        return {}
    rows = conn.execute("SELECT * FROM source_checks" + (" WHERE path=?" if path is not None else ""),
                        () if path is None else (path,))
    checks = {}
    for path, checked_at, checksum in rows:
        if _check_row(path, checked_at)[-1] != checksum:
            raise IndexCorruptedError(f"the last-checked time of {path!r} does not match its checksum; "
                                      "run a sync to record it again, or restore kb.sqlite from a backup")
        checks[path] = checked_at
    return checks


def _times_row(doc_id: str, first_indexed: float, source_mtime: float | None) -> tuple:
    values = (doc_id, float(first_indexed), None if source_mtime is None else float(source_mtime))
    return (*values, digest(json.dumps(values).encode()))


def write_document_times(conn: sqlite3.Connection, upserted: Iterable[str], deleted: Iterable[str], now: float,
                         source_mtimes: Mapping[str, float]) -> None:
    """First-indexed times kept across updates, set for new documents, gone with deleted ones."""
    upserted = list(upserted)
    first: dict[str, float] = {}
    for i in range(0, len(upserted), 500):
        batch = upserted[i:i + 500]
        marks = ",".join("?" * len(batch))
        first.update(conn.execute(f"SELECT id, first_indexed FROM document_times WHERE id IN ({marks})", batch))
    conn.executemany("DELETE FROM document_times WHERE id=?", ((doc_id,) for doc_id in deleted))
    conn.executemany("INSERT OR REPLACE INTO document_times VALUES (?, ?, ?, ?)",
                     (_times_row(doc_id, first.get(doc_id, now), source_mtimes.get(doc_id)) for doc_id in upserted))


def document_times(conn: sqlite3.Connection, doc_id: str) -> tuple[float, float | None] | None:
    """``(first_indexed, source_mtime)`` of a document, None when the base has no record of it."""
    if not _has_tables(conn):
        return None
    row = conn.execute("SELECT * FROM document_times WHERE id=?", (doc_id,)).fetchone()
    if row is None:
        return None
    if _times_row(row[0], row[1], row[2])[-1] != row[3]:
        raise IndexCorruptedError(f"the times of document {doc_id!r} do not match their checksum; "
                                  "restore kb.sqlite from a backup, or re-index the document")
    return row[1], row[2]


def all_source_mtimes(conn: sqlite3.Connection) -> dict[str, float | None]:
    """Every document's source mtime (None: not from a file), each row verified."""
    if not _has_tables(conn):
        return {}
    out = {}
    for row in conn.execute("SELECT * FROM document_times"):
        if _times_row(row[0], row[1], row[2])[-1] != row[3]:
            raise IndexCorruptedError(f"the times of document {row[0]!r} do not match their checksum; "
                                      "restore kb.sqlite from a backup, or re-index the document")
        out[row[0]] = row[2]
    return out
