"""What ``kb.commit()`` does: build the next generation from the staged changes, then publish it.

Building touches nothing a reader sees: the changed documents are chunked, every index
kind's :meth:`~rag_plugins.protocols.Index.apply` returns its next generation, and the
new generation's files are written and fsynced under ``generations/``. Publishing is one
SQLite transaction (:meth:`~rag_plugins.store.docstore.DocumentStore.apply_commit`) that
retires the replaced chunk rows, adds the new ones, records a sync's source files and moves
the generation number. A failure anywhere before that transaction leaves the base as it was.

A commit may be gated: the gate searches the new generation inside that transaction
(where only the writer sees it) and, by raising, keeps it from ever becoming current.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from rag_plugins._progress import progress_bar
from rag_plugins._search_scope import reading
from rag_plugins.errors import IndexCorruptedError
from rag_plugins.index import IndexChanges
from rag_plugins.store.docstore import ChunkRecord
from rag_plugins.store.documents import index_text
from rag_plugins.store.generations import rows_agree
from rag_plugins.store.integrity import checksum_array
from rag_plugins.store.locks import GenerationLease
from rag_plugins.store.snapshot import Snapshot
from rag_plugins.types import Chunk


@dataclass(frozen=True)
class CommitResult:
    generation: int
    documents_upserted: int
    documents_deleted: int
    chunks_added: int
    chunks_removed: int
    chunks_embedded: int
    seconds: float
    chunks_extracted: int = 0


def commit_staged(kb: Any, gate: Callable[[Any], None] | None = None) -> CommitResult:
    """Publish ``kb``'s staged changes as its next generation (the caller holds the writer
    lock and the commit lock). ``gate(kb)``, when given, runs with ``kb`` reading the new
    generation before it is published; an exception from it publishes nothing and keeps
    the changes staged."""
    started = time.perf_counter()
    snap: Snapshot = kb._snapshot
    staged = kb._staged
    upserts = sorted(staged.upserts.values(), key=lambda e: e[0].id)
    deletes = sorted(staged.deletes)
    if not upserts and not deletes:
        if staged.sources or staged.checked:  # a sync that found no document changed
            kb.store.write_sources(staged.sources, staged.checked)
            kb.rollback()
        return CommitResult(snap.generation, 0, 0, 0, 0, 0, 0.0)
    old_rows = kb.store.rows_of_documents(deletes + [d.id for d, _, _ in upserts])
    next_row = max(kb.store.get_meta("next_row", 0), kb.store.max_row() + 1)
    now = time.time()
    chunk_rows = _chunk(kb, upserts, next_row, now, staged.source_mtimes)
    next_row += len(chunk_rows)

    chunks = [c for _, c in chunk_rows]
    changes = IndexChanges(old_rows, np.asarray([r for r, _ in chunk_rows], dtype=np.int64), chunks,
                           [index_text(c, kb.settings["index_context"]) for c in chunks])
    services = kb._services()
    indexes = {kind: index.apply(changes, services) for kind, index in snap.indexes.items()}
    records = [ChunkRecord.of(row, chunk) for row, chunk in chunk_rows]
    keep = ~np.isin(snap.rows, old_rows)
    checksums = np.concatenate([snap.checksums[keep], checksum_array(r.checksum for r in records)])
    if not rows_agree(indexes, np.concatenate([snap.rows[keep], changes.added_rows])):
        raise IndexCorruptedError(f"{kb.path}: the new indexes lost track of chunk rows")

    generation = kb.generations.next_number()
    _check_store_matches(kb, snap)
    kb.generations.write(generation, indexes, checksums)
    lease = GenerationLease.acquire(kb.path / "generations", generation)
    published: list[Snapshot] = []

    def check_then_publish() -> None:  # inside the transaction: the new rows are visible here only
        published.append(kb.generations.snapshot(generation, indexes, checksums, lease, services=services))
        if gate is not None:
            with reading(kb, published[0]):
                gate(kb)

    try:
        kb.store.apply_commit(generation, deletes, upserts, records, {"generation": generation, "next_row": next_row},
                              staged.sources, staged.source_mtimes, check_then_publish, now, staged.checked)
    except BaseException:
        if lease is not None:
            lease.release()
        kb.collect_garbage()  # the unpublished folder
        raise
    kb._snapshot = published[0]
    kb._data_version = kb.store.data_version()
    kb.rollback()
    del snap  # drop this commit's hold on the old generation before collecting it
    kb.collect_garbage()
    return CommitResult(generation, len(upserts), len(deletes), len(chunk_rows), len(old_rows),
                        services.chunks_embedded, time.perf_counter() - started, services.chunks_extracted)


def _chunk(kb: Any, upserts: list, first_row: int, now: float,
           source_mtimes: dict[str, float]) -> list[tuple[int, Chunk]]:
    """The upserted documents' chunks, numbered with new rows from ``first_row``, each
    stamped with the version of its document it was cut from
    (:data:`~rag_plugins.store.documents.FRESHNESS_METADATA`)."""
    rows: list[tuple[int, Chunk]] = []
    with progress_bar(len(upserts), "Chunking", show=kb._show(len(upserts)), unit="doc") as bar:
        for doc, _, version in upserts:
            start = first_row + len(rows)
            stamp = {"document_version": version, "document_changed_at": now}
            if doc.id in source_mtimes:
                stamp["document_source_mtime"] = source_mtimes[doc.id]
            rows.extend((start + i, replace(chunk, metadata={**chunk.metadata, **stamp}))
                        for i, chunk in enumerate(kb.chunker.split(doc)))
            bar.update(1)
    return rows


def _check_store_matches(kb: Any, snap: Snapshot) -> None:
    """Before publishing: the store must still be what this writer's indexes describe
    (the writer lock makes anything else a bug or a tampered base)."""
    committed = kb.store.get_meta("generation", 0)
    live = kb.store.live_chunk_count()
    if committed != snap.generation or live != len(snap.rows):
        raise IndexCorruptedError(
            f"{kb.path} changed underneath this writer: kb.sqlite is at generation {committed} "
            f"with {live} chunks, this writer's indexes at {snap.generation} with {len(snap.rows)}. "
            "Nothing was committed; close and reopen the knowledge base"
        )
