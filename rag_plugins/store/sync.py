"""Keep a base in step with its source files: ``kb.sync(["docs/"])`` and ``rag-plugins sync``.

A sync walks the sources (include / exclude globs, ``.gitignore``), and for each file
compares its size and mtime with what the last sync recorded
(:mod:`rag_plugins.store.sources`): the same, and it costs one ``stat``; moved, and it is
hashed; a new hash, and only then it is loaded, re-chunked and re-embedded (the embedding
cache still embeds only chunk texts it has never seen). Documents a changed file no longer
gives, and the documents of files gone from the walked folders, are deleted. Everything
lands in one atomic commit: a sync killed halfway leaves the previous generation as it was,
and the next run picks up from there, reusing every embedding already computed. A file
that cannot be loaded is reported with its reason and keeps its previous documents.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from rag_plugins._progress import progress_bar
from rag_plugins.errors import InvalidInputError
from rag_plugins.loaders import SkippedPath, SourceScan, load_source, partly_read
from rag_plugins.store.sources import SourceRecord
from rag_plugins.types import Document


@dataclass
class SyncReport:
    """What a sync did: document ids added, updated, removed and unchanged; the files that
    failed (kept as they were) and notes on partly read ones; what it cost."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[SkippedPath] = field(default_factory=list)
    notes: list[SkippedPath] = field(default_factory=list)
    skipped: list[SkippedPath] = field(default_factory=list)
    files: int = 0
    files_hashed: int = 0
    files_loaded: int = 0
    chunks_embedded: int = 0
    generation: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The JSON ``rag-plugins sync --json`` prints: counts of documents, failures in full."""
        return {"added": len(self.added), "updated": len(self.updated), "removed": len(self.removed),
                "unchanged": len(self.unchanged),
                "failed": [{"path": str(f.path), "reason": f.reason} for f in self.failed],
                "notes": [{"path": str(n.path), "reason": n.reason} for n in self.notes],
                "skipped": len(self.skipped), "files": self.files, "files_hashed": self.files_hashed,
                "files_loaded": self.files_loaded, "chunks_embedded": self.chunks_embedded,
                "generation": self.generation, "seconds": round(self.seconds, 3)}

    def summary(self) -> str:
        return (f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
                f"{len(self.unchanged)} unchanged document(s) from {self.files} file(s); "
                f"{self.chunks_embedded} chunk(s) embedded; {len(self.failed)} failed; "
                f"generation {self.generation} ({self.seconds:.1f}s)")


def sync_sources(kb: Any, scan: SourceScan, *, prune: bool = True, show_progress: bool | None = None,
                 loaded: dict[Path, list[Document] | SkippedPath] | None = None,
                 gate: Callable[[Any], None] | None = None) -> SyncReport:
    """Bring ``kb`` in line with the files of ``scan`` in one commit (see the module doc).

    ``prune`` deletes the documents of recorded files no longer found under the walked
    folders; ``loaded`` gives files already loaded (the CLI loads a new base's files before
    creating it, so a run with nothing loadable leaves no base behind); ``gate`` gates the
    commit (:meth:`KnowledgeBase.commit`): a refused sync changes nothing.
    """
    if kb.has_pending_changes:
        raise InvalidInputError("this base has staged changes; commit() or rollback() them before a sync")
    started = time.perf_counter()
    report = SyncReport(skipped=[s for s in scan.skipped if s.kind != "unreadable"],
                        failed=[s for s in scan.skipped if s.kind == "unreadable"], files=len(scan.files))
    records = kb.store.sources()
    staged: dict[str, SourceRecord | None] = {}
    mtimes: dict[str, float] = {}
    seen: set[str] = set()
    stale: list[str] = []  # ids a changed file no longer gives
    now = time.time()
    try:
        with progress_bar(len(scan.files), "Syncing", show=kb._show(len(scan.files)), unit="file") as bar:
            for path in scan.files:
                key = path.as_posix()
                seen.add(key)
                stale.extend(_sync_file(kb, path, key, records.get(key), now, report, staged, mtimes, loaded or {}))
                bar.update(1)
        if prune:
            for key, record in records.items():
                if key not in seen and _under(key, scan):
                    stale.extend(record.documents)
                    staged[key] = None
        given = set(report.added) | set(report.updated) | set(report.unchanged)  # a document may move files
        report.removed = kb.delete(sorted(set(stale) - given), missing_ok=True)
        kb._staged.sources.update(staged)
        kb._staged.source_mtimes.update(mtimes)
        unread = {skip.path.as_posix() for skip in report.failed}
        kb._staged.checked.update((key, now) for key in seen if key not in unread)
        commit = kb.commit(gate=gate)
    except BaseException:
        kb.rollback()
        raise
    report.chunks_embedded = commit.chunks_embedded
    report.generation = commit.generation
    report.seconds = time.perf_counter() - started
    return report


def sync_documents(kb: Any, documents: Sequence[Document], source: str, *, prune: bool = True,
                   gate: Callable[[Any], None] | None = None) -> SyncReport:
    """Bring ``kb`` in line with ``documents`` (all of one ``source``: a framework loader's
    output, an export) in one commit: new and changed ones upserted, unchanged ones left, and
    with ``prune`` the documents this source gave last time but not now deleted."""
    if not isinstance(source, str) or not source.strip():
        raise InvalidInputError(f"source names where the documents came from (a non-empty str), got {source!r}")
    if kb.has_pending_changes:
        raise InvalidInputError("this base has staged changes; commit() or rollback() them before a sync")
    started = time.perf_counter()
    key = f"documents:{source}"
    record = kb.store.sources().get(key)
    now = time.time()
    report = SyncReport(files=1, files_loaded=1)
    try:
        result = kb.upsert(documents)
        ids = tuple(dict.fromkeys([*result.added, *result.updated, *result.unchanged]))
        report.added, report.updated, report.unchanged = result.added, result.updated, result.unchanged
        if record is not None and prune:
            report.removed = kb.delete([d for d in record.documents if d not in set(ids)], missing_ok=True)
        kept = ids if prune or record is None else tuple(dict.fromkeys([*record.documents, *ids]))
        changed = bool(result.added or result.updated or report.removed)
        kb._staged.sources[key] = SourceRecord(key, len(kept), 0, hashlib.sha256("\0".join(kept).encode()).hexdigest(),
                                               kept, record.first_indexed if record else now,
                                               now if changed or record is None else record.changed_at)
        kb._staged.checked[key] = now
        commit = kb.commit(gate=gate)
    except BaseException:
        kb.rollback()
        raise
    report.chunks_embedded, report.generation = commit.chunks_embedded, commit.generation
    report.seconds = time.perf_counter() - started
    return report


def _sync_file(kb: Any, path: Path, key: str, record: SourceRecord | None, now: float, report: SyncReport,
               staged: dict[str, SourceRecord | None], mtimes: dict[str, float],
               loaded: dict[Path, list[Document] | SkippedPath]) -> list[str]:
    """Stage one file's changes; return the ids its previous version gave and this one does not."""
    size, mtime_ns = _stat(path)
    if record is not None and (record.size, record.mtime_ns) == (size, mtime_ns) and path not in loaded:
        report.unchanged.extend(record.documents)
        return []
    sha = _sha256(path)
    report.files_hashed += 1
    if record is not None and record.sha256 == sha:  # touched, not changed
        report.unchanged.extend(record.documents)
        staged[key] = replace(record, size=size, mtime_ns=mtime_ns)
        return []
    docs = loaded[path] if path in loaded else load_source(path)
    if isinstance(docs, SkippedPath):
        report.failed.append(docs)
        return []
    report.files_loaded += 1
    report.notes.extend(partly_read(path, docs))
    result = kb.upsert(docs)
    report.added.extend(result.added)
    report.updated.extend(result.updated)
    report.unchanged.extend(result.unchanged)
    ids = tuple(d.id for d in docs)
    changed = bool(result.added or result.updated) or record is None or set(record.documents) != set(ids)
    staged[key] = SourceRecord(key, size, mtime_ns, sha, ids, record.first_indexed if record else now,
                               now if changed or record is None else record.changed_at)
    mtimes.update({doc_id: mtime_ns / 1e9 for doc_id in ids})
    return [d for d in record.documents if d not in set(ids)] if record is not None else []


def _under(key: str, scan: SourceScan) -> bool:
    """Whether a recorded source lies where this sync looked (so its absence means it is gone)."""
    if any(key == p.as_posix() for p in scan.named):
        return True
    return any(key.startswith(folder.as_posix().rstrip("/") + "/") for folder in scan.folders)


def _files_of(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]


def _stat(path: Path) -> tuple[int, int]:
    """Size and mtime (ns); for a folder source (a Slack export), over all its files."""
    stats = [os.stat(p) for p in _files_of(path)]
    return sum(s.st_size for s in stats), max((s.st_mtime_ns for s in stats), default=0)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    for file in _files_of(path):
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with open(file, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
