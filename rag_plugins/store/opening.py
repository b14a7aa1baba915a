"""Opening a knowledge base: creating a new one, or checking and upgrading an existing one,
under the writer lock (or, read-only, beside the writer)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from rag_plugins.chunking import StructureAwareChunker
from rag_plugins.errors import IndexCorruptedError, InvalidInputError
from rag_plugins.graph.extraction import Extractor
from rag_plugins.index.bm25 import BM25_STATISTICS
from rag_plugins.protocols import Embedder
from rag_plugins.store import settings as base_settings
from rag_plugins.store.docstore import DocumentStore
from rag_plugins.store.integrity import settings_digest
from rag_plugins.store.locks import WriterLock
from rag_plugins.store.manifest import FORMAT_VERSION, check_format_version


def open_base(cls: type, path: Path, *, embedder: Embedder | str | None, requested: dict[str, Any],
              graph: bool | Extractor | None, show_progress: bool | None, use_gpu: bool | None, read_only: bool,
              lock_timeout: float, auto_refresh: bool, bm25_statistics: str, verify: bool,
              include_generated: bool = False, embedding_backend: str | None = None) -> Any:
    """:meth:`KnowledgeBase.open`'s work (``cls`` is the class to make); a failed first open
    leaves nothing behind."""
    if bm25_statistics not in BM25_STATISTICS:
        raise InvalidInputError(f"bm25_statistics must be one of {BM25_STATISTICS}, got {bm25_statistics!r}")
    if read_only:
        if not (path / "kb.sqlite").is_file():
            raise InvalidInputError(
                f"there is no knowledge base at {path}; create one first (KnowledgeBase.open "
                "without read_only, or rag-plugins index), or check the path"
            )
        writer = None
    else:
        existed = path.exists()
        path.mkdir(parents=True, exist_ok=True)
        writer = WriterLock.acquire(path, lock_timeout)
    fresh = not read_only and not (path / "kb.sqlite").exists()
    store = None
    try:
        store = DocumentStore(path / "kb.sqlite", read_only=read_only)
        version = store.get_meta("format_version") if store.has_schema() else None
        embedder = base_settings.given_embedder(embedder, embedding_backend, version is None)
        check_embedder_now = embedder is not None or embedding_backend is not None
        extractor = base_settings.as_extractor(graph)
        if version is None:
            if read_only:
                raise IndexCorruptedError(f"{path / 'kb.sqlite'} holds no knowledge base; check the path")
            settings = base_settings.new_settings(embedder, requested, extractor)
            store.create_schema()
            store.set_meta("settings", settings)
            store.set_meta("settings_sha256", settings_digest(settings))
            store.set_meta("generation", 0)
            store.set_meta("next_row", 0)
            store.set_meta("format_version", FORMAT_VERSION)
        else:
            if verify:
                store.integrity_check()
            check_format_version(version, path)
            if writer is not None:
                # A writer killed inside COMMIT can leave its transaction in the WAL file
                # but not yet in SQLite's shared index: readers do not see it, yet a later
                # recovery would, after this writer removed that generation's folder as
                # an unpublished leftover. Writing now settles it: our frames overwrite
                # the orphan's, or follow it if it was already recovered.
                store.set_meta("writer", {"pid": os.getpid(), "opened_at": time.time()})
            if version < FORMAT_VERSION:
                base_settings.upgrade(store, path, read_only)
            if writer is not None:
                store.add_missing_tables()
            settings = base_settings.checked_settings(store, path)
            base_settings.check_requested(settings, requested, path)
            embedder = base_settings.resolve_embedder(settings, embedder, path, embedding_backend)
            extractor = base_settings.resolve_extractor(settings.get("graph"), extractor, graph, path)
        counter = embedder.count_tokens if embedder is not None and hasattr(embedder, "count_tokens") else None
        chunker = StructureAwareChunker(settings["chunk_size"], settings["chunk_overlap"], counter)
        kb = cls(path, store, settings, embedder, chunker, show_progress, use_gpu, extractor,
                 writer, auto_refresh, bm25_statistics, include_generated)
        if version is not None and check_embedder_now:
            kb._check_embedder()
        if writer is not None:
            kb.collect_garbage()
        return kb
    except BaseException:
        if store is not None:
            store.close()
        if fresh:  # a failed first open (say, a model that cannot load) leaves nothing behind
            _remove_new_base(path, existed)
        if writer is not None:
            writer.release()
        raise


def _remove_new_base(path: Path, existed: bool) -> None:
    for name in ("kb.sqlite", "kb.sqlite-wal", "kb.sqlite-shm", "kb.sqlite-journal", "writer.lock"):
        (path / name).unlink(missing_ok=True)
    shutil.rmtree(path / "generations", ignore_errors=True)
    if not existed:
        try:
            path.rmdir()
        except OSError:  # something else was put there meanwhile: leave it
            pass
