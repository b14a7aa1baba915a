"""A knowledge base's generation folders: reading one (leased), writing the next, and
removing those no reader holds any more.

Each committed generation is a folder ``generations/000007/`` holding every index's files
and a manifest with their checksums; ``kb.sqlite`` records which generation is current,
and which standby generations (a re-index not yet switched to, the generation a switch
left, see :mod:`rag_plugins.store.reindexing`) are kept beside it.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from rag_plugins.errors import IndexCorruptedError, KnowledgeBaseLockedError
from rag_plugins.filters import MetadataIndex, builtin_metadata
from rag_plugins.index import Index, IndexServices
from rag_plugins.index.base import index_kinds_for
from rag_plugins.store.chunk_table import ChunkCache, ChunkTable
from rag_plugins.store.docstore import DocumentStore
from rag_plugins.store.integrity import checksum_array, chunks_digest, settings_digest
from rag_plugins.store.locks import GenerationLease, generation_name, try_remove_generation
from rag_plugins.store.manifest import read_manifest, write_manifest
from rag_plugins.store.snapshot import GENERATED, Snapshot

_LOAD_ERRORS = (OSError, ValueError, RuntimeError, KeyError, TypeError)
STANDBY_ROLES = ("pending", "previous")
"""The standby generations a base may keep: ``pending`` (built beside the current one,
not yet switched to) and ``previous`` (what the last switch left, for a rollback)."""


class SettingsMoved(Exception):
    """Internal: the current generation was built with other settings than this object's
    (a reader saw a switch); the caller adopts the new settings and loads again."""


class Generations:
    """The generations of the base at ``path`` whose documents ``store`` holds."""

    def __init__(self, path: Path, store: DocumentStore, settings: dict[str, Any]):
        self.path = path
        self.root = path / "generations"
        self.store = store
        self.settings = settings
        self.kinds = index_kinds_for(settings)
        self.cache = ChunkCache()
        """The chunks searches returned lately, shared by every generation this object loads."""
        self.include_generated = False
        """Whether searches see generated text without asking (``KnowledgeBase.open(include_generated=)``)."""

    def load_current(self, services: IndexServices) -> Snapshot:
        """The committed generation, leased so the writer keeps it while it is used.
        Raises :class:`SettingsMoved` when it was built with settings other than these."""
        for _ in range(200):
            generation = self.store.get_meta("generation", 0)
            if not isinstance(generation, int) or isinstance(generation, bool) or generation < 0:
                raise IndexCorruptedError(f"{self.path / 'kb.sqlite'} records no valid generation "
                                          f"({generation!r}); restore the base from a backup or rebuild it")
            if generation == 0:
                return self.empty(services)
            if self.store.get_meta("settings_sha256") != settings_digest(self.settings):
                raise SettingsMoved()
            lease = GenerationLease.acquire(self.root, generation)
            if lease is not None:
                try:
                    return self.read(generation, lease, services)
                except BaseException:
                    lease.release()
                    raise
            if self.store.get_meta("generation", 0) == generation:
                raise IndexCorruptedError(
                    f"{self.root / generation_name(generation)}, the committed generation, is missing; "
                    "restore the knowledge base from a backup or rebuild it"
                )
        raise KnowledgeBaseLockedError(
            f"{self.path}: a new generation was committed on every one of 200 tries to open one; "
            "the writer commits faster than this reader can load. Retry, or commit less often"
        )

    def empty(self, services: IndexServices) -> Snapshot:
        indexes = {cls.kind: cls.empty(services) for cls in self.kinds}
        return self.snapshot(0, indexes, checksum_array([]), None, services=services)

    def read(self, generation: int, lease: GenerationLease, services: IndexServices) -> Snapshot:
        """Generation ``generation`` (``lease`` held on it), built with these settings."""
        directory = self.root / generation_name(generation)
        manifest = read_manifest(directory)
        if manifest.get("settings_sha256") not in (None, settings_digest(self.settings)) and \
                self.store.get_meta("settings_sha256") != settings_digest(self.settings):
            raise SettingsMoved()  # a switch landed between reading the number and the folder
        embedding = self.settings["embedding"]
        if embedding and (manifest.get("embedding") or {}).get("fingerprint") != embedding["fingerprint"]:
            raise IndexCorruptedError(f"{directory} disagrees with kb.sqlite on the embedding model")
        if manifest.get("generation") != generation or manifest.get("settings_sha256", None) not in (
                None, settings_digest(self.settings)):
            raise IndexCorruptedError(
                f"{directory} does not belong to the settings and generation recorded in kb.sqlite; "
                "restore the knowledge base from a backup or rebuild it"
            )
        try:
            indexes = {cls.kind: cls.load(directory, services) for cls in self.kinds}
        except _LOAD_ERRORS as exc:
            raise IndexCorruptedError(f"cannot load the indexes in {directory}: {exc}") from exc
        rows, info, checksums = self.store.chunk_metadata(generation)
        checks = checksum_array(checksums)
        recorded = manifest.get("chunks", {}).get("digest") if isinstance(manifest.get("chunks"), dict) else None
        if not rows_agree(indexes, rows) or (manifest["format_version"] >= 2 and recorded != chunks_digest(checks)):
            raise IndexCorruptedError(
                f"{self.path}: the chunks in kb.sqlite are not the ones generation {generation} "
                "indexed; restore the knowledge base from a backup or rebuild it"
            )
        return self.snapshot(generation, indexes, checks, lease, rows, info, services)

    def snapshot(self, generation: int, indexes: Mapping[str, Index], checksums: np.ndarray,
                 lease: GenerationLease | None, rows: np.ndarray | None = None, info: list | None = None,
                 services: IndexServices | None = None) -> Snapshot:
        """A readable generation: the indexes told their chunks' rows and ids, and the
        metadata index; queries are embedded by ``services``' embeddings."""
        if rows is None:
            rows, info, _ = self.store.chunk_metadata(generation) if generation else (np.zeros(0, np.int64), [], [])
        metadata = MetadataIndex([builtin_metadata(cid, did, meta) for cid, did, meta, *_ in info])
        hidden = None
        if not self.include_generated and any(meta.get(GENERATED) is True for _, _, meta, *_ in info):
            hidden = np.fromiter((meta.get(GENERATED) is True for _, _, meta, *_ in info), bool, len(info))
        chunk_ids = [cid for cid, *_ in info]
        for index in indexes.values():
            index.bind(rows, chunk_ids)
        return Snapshot(generation, rows, dict(indexes), metadata, checksums, lease, self.path,
                        getattr(services, "embeddings", None), hidden, ChunkTable(rows, info, self.store, self.cache))

    def write(self, generation: int, indexes: Mapping[str, Index], checksums: np.ndarray) -> Path:
        """Write ``generation``'s folder in full (through a ``.tmp`` folder, fsynced) before
        the caller publishes it in ``kb.sqlite``."""
        self.root.mkdir(exist_ok=True)
        final = self.root / generation_name(generation)
        tmp = self.root / f"{generation_name(generation)}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)
        tmp.mkdir()
        files: list[str] = []
        for index in indexes.values():
            files += index.save(tmp)
        described = {kind: index.describe() for kind, index in indexes.items()}
        counts = {"chunks": len(checksums)}
        counts.update((d["unit"], d["size"]) for d in described.values() if d["unit"] != "chunks")
        write_manifest(tmp, files, {
            "generation": generation,
            "created_at": time.time(),
            "embedding": self.settings["embedding"],
            "indexes": described,
            "counts": counts,
            "chunks": {"count": len(checksums), "digest": chunks_digest(checksums)},
            "settings_sha256": settings_digest(self.settings),
        })
        os.replace(tmp, final)
        fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return final

    def collect_garbage(self) -> list[int]:
        """Remove superseded generations no reader holds and leftovers of crashed commits,
        and purge the chunk rows no remaining generation shows; returns the generations removed."""
        if not self.root.is_dir():
            return []
        newest = self.store.get_meta("generation", 0)
        kept_numbers = {newest, *self.standby_numbers()}
        removed = []
        for child in sorted(self.root.iterdir()):
            name = child.name
            if child.is_dir() and name.endswith(".tmp"):
                shutil.rmtree(child, ignore_errors=True)
            elif name.isdigit() or (name.endswith(".lock") and name[:-5].isdigit()):
                generation = int(name[:-5] if name.endswith(".lock") else name)
                if generation not in kept_numbers and child.exists():  # not already gone with its folder
                    try:
                        if try_remove_generation(self.root, generation):
                            removed.append(generation)
                    except OSError:
                        continue  # tried again after the next commit
        kept = [int(c.name) for c in self.root.iterdir() if c.is_dir() and c.name.isdigit()]
        self.store.purge_retired(min(kept + list(kept_numbers)))
        return sorted(set(removed))

    def standby_numbers(self) -> list[int]:
        """The generations kept beside the current one (pending, previous)."""
        numbers = []
        for role in STANDBY_ROLES:
            entry = self.store.get_meta(f"{role}_generation")
            if isinstance(entry, dict) and isinstance(entry.get("generation"), int):
                numbers.append(entry["generation"])
        return numbers

    def next_number(self) -> int:
        """The number of the next generation written: above every generation there is or
        was kept, so a standby generation's chunk rows stay the ones it indexed."""
        on_disk = [int(c.name.split(".")[0]) for c in self.root.iterdir()
                   if c.name.split(".")[0].isdigit()] if self.root.is_dir() else []
        return 1 + max([self.store.get_meta("generation", 0), *self.standby_numbers(), *on_disk])


def rows_agree(indexes: Mapping[str, Index], rows: np.ndarray) -> bool:
    """Whether every index that holds all chunks holds exactly ``rows``, in order."""
    return all(index.rows is None or np.array_equal(index.rows, rows) for index in indexes.values())

