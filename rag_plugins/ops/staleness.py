"""Staleness: what the base has not re-checked lately, and how old what queries retrieve is.

A document's *age* is the time since its content last changed: its source file's mtime
when it came from a sync, else when it was last written to the base. Its *last check* is
when a sync last looked at its source (changed or not), else when it was last written.
Retrieved ages come from the retrieval log, measured at search time from the stamps each
chunk carries of the document version it was cut from
(:data:`~rag_plugins.store.documents.FRESHNESS_METADATA`, logged with every hit), so a
document updated since does not make last week's answers look fresh.

>>> report = staleness(kb, read_retrieval_log(kb.path), unchecked_days=30)   # doctest: +SKIP
>>> report.retrieved_older_than(180)                                         # doctest: +SKIP
0.4
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from rag_plugins.errors import InvalidInputError

DAY = 86400.0
AGE_BANDS = (30, 90, 180, 365)
"""Days: the age distribution is reported as under 30, 30-90, 90-180, 180-365 and over 365."""


@dataclass(frozen=True)
class SourceFreshness:
    source: str
    checked_at: float | None
    """When a sync last looked at it (None: synced before this was recorded)."""
    changed_at: float
    documents: int


@dataclass(frozen=True)
class DocumentFreshness:
    id: str
    version: int
    changed_at: float
    source_mtime: float | None
    source: str | None
    checked_at: float

    def age(self, now: float) -> float:
        return max(0.0, now - (self.source_mtime if self.source_mtime is not None else self.changed_at))


@dataclass(frozen=True)
class StalenessReport:
    now: float
    unchecked_days: float
    documents: tuple[DocumentFreshness, ...]
    sources: tuple[SourceFreshness, ...]
    retrieved_ages: tuple[float | None, ...]
    """Per logged hit, the age of the text it returned at search time (None: unknown, the
    chunk row is gone and its document has changed since)."""

    def _cutoff(self) -> float:
        return self.now - self.unchecked_days * DAY

    def unchecked_sources(self) -> list[SourceFreshness]:
        """Sources no sync has looked at within ``unchecked_days``, least recently checked first."""
        return _not_checked_since(self.sources, self._cutoff())

    def unchecked_documents(self) -> list[DocumentFreshness]:
        stale = [d for d in self.documents if d.checked_at < self._cutoff()]
        return sorted(stale, key=lambda d: (d.checked_at, d.id))

    def retrieved_older_than(self, days: float) -> float | None:
        """The share of logged hits whose text was older than ``days`` when retrieved."""
        known = [a for a in self.retrieved_ages if a is not None]
        return float(np.mean([a > days * DAY for a in known])) if known else None

    def age_bands(self, ages: Sequence[float | None] | None = None) -> dict[str, float]:
        """Shares of ``ages`` (default: the retrieved ones) per band of :data:`AGE_BANDS`."""
        known = [a / DAY for a in (self.retrieved_ages if ages is None else ages) if a is not None]
        if not known:
            return {}
        edges = [0, *AGE_BANDS, float("inf")]
        names = [f"<{AGE_BANDS[0]}d"] + [f"{a}-{b}d" for a, b in zip(AGE_BANDS, AGE_BANDS[1:])] + [f">{AGE_BANDS[-1]}d"]
        counts = np.histogram(known, bins=edges)[0]
        return {name: float(c) / len(known) for name, c in zip(names, counts)}

    def to_dict(self, stale_days: float = 180, limit: int = 20) -> dict[str, Any]:
        unchecked_sources, unchecked_documents = self.unchecked_sources(), self.unchecked_documents()
        return {
            "now": self.now, "unchecked_days": self.unchecked_days,
            "documents": len(self.documents), "sources": len(self.sources),
            "unchecked_sources": len(unchecked_sources), "unchecked_documents": len(unchecked_documents),
            "unchecked_source_list": [{"source": s.source, "checked_at": s.checked_at, "documents": s.documents}
                                      for s in unchecked_sources[:limit]],
            "unchecked_document_list": [{"id": d.id, "checked_at": d.checked_at, "source": d.source}
                                        for d in unchecked_documents[:limit]],
            "retrieved_hits": len(self.retrieved_ages),
            "retrieved_unknown_age": sum(a is None for a in self.retrieved_ages),
            f"retrieved_older_than_{stale_days:g}d": self.retrieved_older_than(stale_days),
            "retrieved_age_bands": self.age_bands(),
            "document_age_bands": self.age_bands([d.age(self.now) for d in self.documents]),
        }


def staleness(kb: Any, searches: Sequence[Any] = (), *, unchecked_days: float = 30.0,
              now: float | None = None) -> StalenessReport:
    """The staleness of ``kb`` and of what ``searches`` (retrieval-log rows) retrieved."""
    if not unchecked_days > 0:
        raise InvalidInputError(f"unchecked_days must be positive, got {unchecked_days}")
    now = time.time() if now is None else now
    records = kb.store.sources()
    checks = kb.store.source_checks()
    source_of = {doc: path for path, record in records.items() for doc in record.documents}
    freshness = kb.store.document_freshness()
    documents = tuple(
        DocumentFreshness(doc, version, changed, mtime, source_of.get(doc),
                          checks.get(source_of.get(doc), changed) if doc in source_of else changed)
        for doc, (version, changed, mtime) in sorted(freshness.items()))
    return StalenessReport(now, float(unchecked_days), documents, source_freshness(records, checks),
                           _retrieved_ages(kb, searches, freshness))


def source_freshness(records: dict, checks: dict[str, float]) -> tuple[SourceFreshness, ...]:
    """Each synced source (``kb.store.sources()``) with its last check (``kb.store.source_checks()``)."""
    return tuple(SourceFreshness(path, checks.get(path), record.changed_at, len(record.documents))
                 for path, record in sorted(records.items()))


def unchecked_sources(kb: Any, unchecked_days: float, now: float | None = None) -> list[SourceFreshness]:
    """The sources no sync looked at within ``unchecked_days``, reading the sources alone
    (not every document, as the full report does)."""
    cutoff = (time.time() if now is None else now) - unchecked_days * DAY
    return _not_checked_since(source_freshness(kb.store.sources(), kb.store.source_checks()), cutoff)


def _not_checked_since(sources: Sequence[SourceFreshness], cutoff: float) -> list[SourceFreshness]:
    stale = [s for s in sources if s.checked_at is None or s.checked_at < cutoff]
    return sorted(stale, key=lambda s: (s.checked_at or 0.0, s.source))


def _retrieved_ages(kb: Any, searches: Sequence[Any], freshness: dict) -> tuple[float | None, ...]:
    wanted: dict[int, set[str]] = {}  # hits logged without their time: look the chunk rows up
    for search in searches:
        generation = max(search.generations, default=0)
        wanted.setdefault(generation, set()).update(h.chunk_id for h in search.hits if h.content_time is None)
    stamps = {g: kb.store.chunk_freshness(sorted(ids), g) for g, ids in wanted.items() if g > 0 and ids}
    ages: list[float | None] = []
    for search in searches:
        seen = stamps.get(max(search.generations, default=0), {})
        for hit in search.hits:
            stamp = seen.get(hit.chunk_id)
            if hit.content_time is not None:
                born = hit.content_time
            elif stamp is not None:
                born = stamp.get("document_source_mtime", stamp["document_changed_at"])
            elif hit.document_id in freshness and freshness[hit.document_id][1] <= search.at:
                _, changed, mtime = freshness[hit.document_id]  # unchanged since: the same text
                born = mtime if mtime is not None else changed
            else:
                ages.append(None)
                continue
            ages.append(max(0.0, search.at - born))
    return tuple(ages)
