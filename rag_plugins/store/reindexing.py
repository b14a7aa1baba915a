"""Re-embedding a knowledge base with another model beside the current generation, and
switching to it (or back) atomically.

:meth:`KnowledgeBase.reindex` builds a *pending* generation: the same chunks embedded by
the new model (every index kind whose data depends on the model rebuilt, the others
carried over), written beside the current generation, which keeps serving; no reader sees
any change. :meth:`KnowledgeBase.switch` makes it current in one SQLite transaction that
also replaces the base's settings, and readers move to it (loading the new model) on their
next refresh. The generation a switch leaves is kept as *previous*: switching to it rolls
back, and switching again rolls forward. Commits made while a standby generation waits are
applied to it, with its own model, when it is switched to.

Standby generations are numbered above every other, so the chunk rows each one shows are
the ones it indexed (see :meth:`~rag_plugins.store.generations.Generations.next_number`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from rag_plugins._search_scope import reading
from rag_plugins.errors import IndexCorruptedError, InvalidInputError
from rag_plugins.index import IndexChanges
from rag_plugins.index.base import index_kinds_for
from rag_plugins.protocols import Embedder
from rag_plugins.store import settings as base_settings
from rag_plugins.store.building import StoreServices
from rag_plugins.store.documents import index_text
from rag_plugins.store.embedding_cache import EmbeddingCache
from rag_plugins.store.generations import STANDBY_ROLES, Generations, rows_agree
from rag_plugins.store.integrity import settings_digest
from rag_plugins.store.locks import GenerationLease
from rag_plugins.store.snapshot import Snapshot


@dataclass(frozen=True)
class StandbyGeneration:
    """A generation kept beside the current one: ``pending`` (built by a re-index, not yet
    switched to) or ``previous`` (what the last switch left)."""

    role: str
    generation: int
    settings: dict[str, Any]
    based_on: int
    """The generation that was current when this one was built or left."""
    created_at: float

    @property
    def model_id(self) -> str | None:
        return (self.settings.get("embedding") or {}).get("model_id")

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "generation": self.generation, "model_id": self.model_id,
                "fingerprint": (self.settings.get("embedding") or {}).get("fingerprint"),
                "based_on": self.based_on, "created_at": self.created_at}

    def to_meta(self) -> dict[str, Any]:
        return {"generation": self.generation, "settings": self.settings,
                "settings_sha256": settings_digest(self.settings), "based_on": self.based_on,
                "created_at": self.created_at}


def standby_generations(kb: Any) -> dict[str, StandbyGeneration]:
    """The standby generations ``kb`` keeps, by role, each checked against its checksum."""
    found = {}
    for role in STANDBY_ROLES:
        value = kb.store.get_meta(f"{role}_generation")
        if value is None:
            continue
        try:
            entry = StandbyGeneration(role, value["generation"], value["settings"], value["based_on"],
                                      value["created_at"])
            intact = value["settings_sha256"] == settings_digest(entry.settings)
        except (KeyError, TypeError):
            intact = False
        if not intact:
            raise IndexCorruptedError(
                f"the {role} generation recorded in {kb.path / 'kb.sqlite'} is damaged; discard it "
                f"(rag-plugins reindex --kb {kb.path} --discard {role}) and re-index if needed")
        found[role] = entry
    return found


def build_pending(kb: Any, embedder: Embedder) -> StandbyGeneration:
    """Write the current chunks, embedded by ``embedder``, as the pending generation
    (replacing an earlier pending one). The current generation is untouched."""
    _require_nothing_staged(kb, "re-index")
    current: Snapshot = kb._snapshot
    if current.generation == 0:
        raise InvalidInputError(f"{kb.path} has nothing committed to re-index; commit documents first")
    settings = {**kb.settings, "embedding": base_settings.embedding_entry(embedder)}
    services = _services(kb, settings, embedder)
    chunks = _chunks(kb, current.rows)
    everything = IndexChanges(np.zeros(0, np.int64), current.rows.copy(), chunks,
                              [index_text(c, settings["index_context"]) for c in chunks])
    indexes = {}
    for cls in index_kinds_for(settings):
        kept = current.indexes.get(cls.kind)
        if kept is not None and not getattr(cls, "embeds", True):
            indexes[cls.kind] = kept
        else:
            indexes[cls.kind] = cls.empty(services).apply(everything, services)
    if not rows_agree(indexes, current.rows):
        raise IndexCorruptedError(f"{kb.path}: the re-embedded indexes lost track of chunk rows")
    generation = kb.generations.next_number()
    Generations(kb.path, kb.store, settings).write(generation, indexes, current.checksums)
    kb._standby_embedders[embedder.fingerprint] = embedder  # a switch or a drift report reuses it
    entry = StandbyGeneration("pending", generation, settings, current.generation, time.time())
    kb.store.set_meta("pending_generation", entry.to_meta())
    kb.collect_garbage()  # the pending generation this one replaces
    return entry


def standby_snapshot(kb: Any, role: str, embedder: Embedder | None = None) -> Snapshot:
    """The standby generation ``role``, loaded and leased, its queries embedded by its own
    model (``embedder``, else the one its settings record), ready for ``kb.reading(...)``.
    Commits made since it was built are not in it (a switch catches them up)."""
    entry = _entry(kb, role)
    embedder = _embedder_for(kb, entry, embedder)
    services = _services(kb, entry.settings, embedder)
    lease = GenerationLease.acquire(kb.generations.root, entry.generation)
    if lease is None:
        raise IndexCorruptedError(f"the {role} generation {entry.generation} of {kb.path} is missing; discard it "
                                  f"(rag-plugins reindex --kb {kb.path} --discard {role})")
    try:
        return Generations(kb.path, kb.store, entry.settings).read(entry.generation, lease, services)
    except BaseException:
        lease.release()
        raise


def switch(kb: Any, role: str = "pending", embedder: Embedder | None = None,
           gate: Callable[[Any], None] | None = None) -> int:
    """Make the standby generation ``role`` current (caught up with the commits made since
    it was built), keeping the one it replaces as ``previous``; returns the new current
    generation. Readers move to it on their next refresh. ``gate(kb)``, when given, runs
    with ``kb`` reading the generation about to become current; if it raises, nothing
    is switched."""
    _require_nothing_staged(kb, "switch generations")
    entry = _entry(kb, role)
    embedder = _embedder_for(kb, entry, embedder)
    services = _services(kb, entry.settings, embedder)
    target = standby_snapshot(kb, role, embedder)
    current: Snapshot = kb._snapshot
    generations = Generations(kb.path, kb.store, entry.settings)
    indexes, lease, generation = target.indexes, target.lease, target.generation
    if not np.array_equal(target.rows, current.rows):  # commits landed meanwhile: apply them
        removed = np.setdiff1d(target.rows, current.rows)
        added = np.setdiff1d(current.rows, target.rows)
        chunks = _chunks(kb, added)
        changes = IndexChanges(removed, added, chunks, [index_text(c, entry.settings["index_context"]) for c in chunks])
        indexes = {kind: index.apply(changes, services) for kind, index in target.indexes.items()}
        if not rows_agree(indexes, current.rows):
            raise IndexCorruptedError(f"{kb.path}: catching up the {role} generation lost track of chunk rows")
        generation = kb.generations.next_number()
        generations.write(generation, indexes, current.checksums)
        lease = GenerationLease.acquire(generations.root, generation)
        target.lease.release()
    left = StandbyGeneration("previous", current.generation, kb.settings, current.generation, time.time())
    candidate = generations.snapshot(generation, indexes, current.checksums, lease, services=services)
    try:
        if gate is not None:
            with reading(kb, candidate):
                gate(kb)
        kb.store.switch_generation(current.generation, {
            "generation": generation, "settings": entry.settings, "settings_sha256": settings_digest(entry.settings),
            "previous_generation": left.to_meta(),
        }, drop=["pending_generation"] if role == "pending" else [])
    except BaseException:
        if lease is not None:
            lease.release()
        kb.collect_garbage()
        raise
    if kb.embedder is not None:
        kb._standby_embedders[kb.embedder.fingerprint] = kb.embedder  # for a rollback
    kb._adopt(entry.settings, embedder)
    kb._snapshot = candidate
    kb._data_version = kb.store.data_version()
    del current, target, candidate
    kb.collect_garbage()
    return generation


def discard(kb: Any, role: str = "pending") -> int | None:
    """Forget the standby generation ``role`` (its files go once no reader holds them);
    returns its number, or None when there was none."""
    entry = standby_generations(kb).get(_checked_role(role))
    if entry is None:
        return None
    kb.store.set_meta(f"{role}_generation", None)
    kb.collect_garbage()
    return entry.generation


def _checked_role(role: str) -> str:
    if role not in STANDBY_ROLES:
        raise InvalidInputError(f"a standby generation is one of {STANDBY_ROLES}, not {role!r}")
    return role


def _entry(kb: Any, role: str) -> StandbyGeneration:
    entry = standby_generations(kb).get(_checked_role(role))
    if entry is None:
        how = ("build one with rag-plugins reindex --kb DIR --model MODEL (Python: kb.reindex(embedder))"
               if role == "pending" else "there is one only after a switch")
        raise InvalidInputError(f"{kb.path} has no {role} generation; {how}")
    return entry


def _embedder_for(kb: Any, entry: StandbyGeneration, given: Embedder | None) -> Embedder | None:
    """The model that embedded ``entry``: ``given`` (checked), the base's own when it is
    the same model, else the one its settings record, loaded."""
    recorded = entry.settings.get("embedding")
    if recorded is None:
        return None
    if given is not None:
        base_settings.check_same_model(recorded, given, kb.path, given.fingerprint)
        return given
    for known in (kb.embedder, kb._standby_embedders.get(recorded["fingerprint"])):
        if known is not None and known.fingerprint == recorded["fingerprint"]:
            return known
    return base_settings.load_recorded_embedder(entry.settings, kb.path)


def _services(kb: Any, settings: Mapping[str, Any], embedder: Embedder | None) -> StoreServices:
    settings = dict(settings)
    cache = EmbeddingCache(kb.store, settings, embedder, kb.path, lambda: None, kb._show)
    return StoreServices(kb.path, kb.store, settings, cache, kb.extractor, kb.use_gpu, kb._show)


def _chunks(kb: Any, rows: np.ndarray) -> list:
    by_row = kb.store.chunks_by_row(rows.tolist())
    missing = [r for r in rows.tolist() if r not in by_row]
    if missing:
        raise IndexCorruptedError(f"{kb.path / 'kb.sqlite'} lacks chunk rows {missing[:5]}; restore the base "
                                  "from a backup or rebuild it")
    return [by_row[r] for r in rows.tolist()]


def _require_nothing_staged(kb: Any, action: str) -> None:
    kb._require_writer(action)
    if kb.has_pending_changes:
        raise InvalidInputError(f"cannot {action}: {kb.path} has staged changes; commit() or rollback() them first")
