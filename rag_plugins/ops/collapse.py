"""Retrieval collapse: the same handful of documents returned whatever is asked.

The monitor keeps a sliding window of searches per stream (a retriever under one filter,
since a tenant filter rightly narrows what comes back) and four gauges over the distinct
queries in it (a question asked twice counts once, with its latest results):

- ``unique_document_rate``: distinct documents retrieved / the most there could be (the
  slots filled, or the documents the stream can reach when fewer);
- ``entropy``: Shannon entropy of the retrieved-document distribution, divided by its
  largest possible value over the same count, so 1 is all different;
- ``top_document_share``: the share of searches whose results hold the most retrieved
  document;
- ``same_results_rate``: the share of searches that returned exactly the same set of
  documents as another, different query.

What a stream can reach is the base's document count when the monitor is told it
(``documents=``, :meth:`CollapseMonitor.for_knowledge_base`) and the stream has no filter;
otherwise the distinct documents the stream has returned so far. A stream is judged only
once it can reach ``min_reach`` times as many documents as a search returns, so a small
base, or a tenant with a handful of documents, is not mistaken for collapse; the price is
that a stream stuck from its very first search, under a filter (or with no ``documents``),
is not judged at all.

Each gauge is updated in O(1) per search, so the monitor can sit on the search path.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

from rag_plugins.errors import InvalidInputError
from rag_plugins.ops.fingerprints import filters_fingerprint, query_fingerprint

logger = logging.getLogger("rag_plugins.ops")

Stream = tuple[str, str]


@dataclass(frozen=True)
class CollapseThresholds:
    """When a window counts as collapsed: ``breaches`` gauges (or more) past their
    thresholds, once the window holds ``min_searches`` distinct queries. It recovers when
    fewer than ``breaches`` gauges are past their thresholds moved by ``recovery``
    (relative), so a window hovering at a threshold does not flap. A stream is judged
    once it can reach ``min_reach`` times as many documents as a search returns.

    The defaults come from SciFact's 809 train queries replayed through the hybrid
    retriever at k = 4 and 10 (``benchmarks/retrieval_ops.py``): half the lowest healthy
    value of a rate that falls in collapse, halfway from the highest healthy value to 1 for
    one that rises (SciFact's paired claims make shared results common: up to 0.5 of a recent window)."""

    unique_document_rate: float = 0.292
    entropy: float = 0.414
    top_document_share: float = 0.7
    same_results_rate: float = 0.75
    min_searches: int = 20
    breaches: int = 2
    recovery: float = 0.25
    min_reach: float = 5.0

    def breached(self, gauges: "CollapseGauges", margin: float = 0.0) -> tuple[str, ...]:
        low = 1 + margin
        out = []
        if gauges.unique_document_rate < self.unique_document_rate * low:
            out.append("unique_document_rate")
        if gauges.entropy < self.entropy * low:
            out.append("entropy")
        if gauges.top_document_share > self.top_document_share / low:
            out.append("top_document_share")
        if gauges.same_results_rate > self.same_results_rate / low:
            out.append("same_results_rate")
        return tuple(out)


@dataclass(frozen=True)
class CollapseGauges:
    """One stream's window: ``searches`` distinct queries, their gauges, and the most
    retrieved document."""

    retriever: str
    filters_hash: str
    searches: int
    unique_document_rate: float
    entropy: float
    top_document_share: float
    same_results_rate: float
    top_document: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CollapseAlert:
    """``state`` is ``"collapsed"`` when a stream's window crossed a threshold (``breached``
    names the gauges) and ``"recovered"`` when it came back; ``at`` is the search's time."""

    state: str
    gauges: CollapseGauges
    breached: tuple[str, ...]
    at: float

    def message(self) -> str:
        g = self.gauges
        where = g.retriever + (f" (filter {g.filters_hash})" if g.filters_hash else "")
        if self.state == "recovered":
            return f"retrieval on {where} recovered from collapse over the last {g.searches} distinct queries"
        return (f"retrieval collapse on {where}: over the last {g.searches} distinct queries "
                f"unique-document rate {g.unique_document_rate:.3f}, entropy {g.entropy:.3f}, "
                f"top document {g.top_document!r} in {g.top_document_share:.0%} of results, "
                f"{g.same_results_rate:.0%} identical result sets (breached: {', '.join(self.breached)})")


class CollapseMonitor:
    """Watches searches for retrieval collapse; alerts to ``on_alert``, a WARNING record
    on the ``rag_plugins.ops`` logger, and :meth:`gauges` (what the metrics export reads).

    A search is observed live (as an observer of an
    :class:`~rag_plugins.tracing.ObservedRetriever`) or replayed from a retrieval log
    (:meth:`replay`). Each stream has two windows, both no older than ``window_seconds``
    before the newest search: the last ``window`` searches, for steady gauges and a slow
    or partial collapse, and the last ``min_searches``, so a sudden collapse after long
    healthy traffic is caught as fast as one from the start. Searches with no hits are
    not counted.

    With the defaults, a retriever returning the same three documents for every query is
    flagged at the 20th distinct query (``min_searches``), whatever came before.

    >>> from rag_plugins.ops.retrieval_log import LoggedHit, LoggedSearch
    >>> def search(n, docs):
    ...     hits = tuple(LoggedHit(f"{d}#0", d, 1.0) for d in docs)
    ...     return LoggedSearch(n, 1000.0 + n, f"q{n}", None, "hybrid", None, 3, hits, None, None, False, {}, (1,), "", 0)
    >>> monitor = CollapseMonitor(documents=1000)  # a base of 1,000 documents
    >>> alerts = monitor.replay(search(n, ["a", "b", "c"]) for n in range(30))
    >>> [(a.state, a.gauges.searches, len(a.breached)) for a in alerts]
    [('collapsed', 20, 4)]
    """

    def __init__(self, *, window: int = 200, window_seconds: float = 3600.0,
                 thresholds: CollapseThresholds | None = None,
                 on_alert: Callable[[CollapseAlert], Any] | None = None, history: int = 100,
                 documents: int | Callable[[], int] | None = None):
        if isinstance(window, bool) or not isinstance(window, int) or window < 2:
            raise InvalidInputError(f"window must be an integer of at least 2 searches, got {window!r}")
        if not window_seconds > 0:
            raise InvalidInputError(f"window_seconds must be positive, got {window_seconds!r}")
        self.window = window
        self.window_seconds = float(window_seconds)
        self.thresholds = thresholds or CollapseThresholds()
        if self.thresholds.min_searches > window:
            raise InvalidInputError(f"min_searches ({self.thresholds.min_searches}) cannot exceed the window "
                                    f"({window}); the monitor would never judge")
        self.on_alert = on_alert
        self.documents = documents
        self._counted: tuple[tuple[int, ...], int] | None = None  # (generations, documents) last read
        self.alerts: deque[CollapseAlert] = deque(maxlen=history)
        self._streams: dict[Stream, _Stream] = {}
        self._lock = threading.Lock()

    def observe(self, search: Any) -> None:
        """Count one search: a :class:`~rag_plugins.tracing.TracedSearch` or a logged one."""
        if hasattr(search, "query_hash"):
            stream = (search.retriever, search.filters_hash)
            query, docs, at = search.query_hash, search.document_ids, search.at
        else:
            stream = (search.retriever, filters_fingerprint(search.filters))
            query, docs = query_fingerprint(search.query), [h.document_id for h in search.hits]
            at = search.started_at or time.time()
        docs = tuple(dict.fromkeys(docs))
        if not docs:
            return
        with self._lock:
            state = self._streams.get(stream)
            if state is None:
                state = self._streams[stream] = _Stream(stream)
            if self.documents is not None and not stream[1]:
                state.documents = self._document_count(tuple(search.generations))
            state.add(at, query, docs)
            oldest = at - self.window_seconds
            state.long.expire(self.window, oldest)
            state.recent.expire(self.thresholds.min_searches, oldest)
            alert = self._judge(state, at)
        if alert is not None:
            self._raise(alert)

    @classmethod
    def for_knowledge_base(cls, kb: Any, **options: Any) -> "CollapseMonitor":
        """A monitor that knows how many documents ``kb`` holds (read at each search)."""
        return cls(documents=lambda: len(kb), **options)

    def replay(self, searches: Iterable[Any]) -> list[CollapseAlert]:
        """Observe ``searches`` in order (a retrieval log's rows, say); the alerts raised."""
        raised: list[CollapseAlert] = []
        keep = self.on_alert

        def collect(alert: CollapseAlert) -> None:
            raised.append(alert)
            if keep is not None:
                keep(alert)

        self.on_alert = collect
        try:
            for search in searches:
                self.observe(search)
        finally:
            self.on_alert = keep
        return raised

    def _document_count(self, generations: tuple[int, ...]) -> int:
        """The base's document count, read again only when a search reads another generation
        (a count per search would be a SQLite query on the search path)."""
        if not callable(self.documents):
            return int(self.documents)
        if self._counted is None or self._counted[0] != generations:
            self._counted = (generations, int(self.documents()))
        return self._counted[1]

    def gauges(self, recent: bool = False, top: bool = True) -> list[CollapseGauges]:
        """Every stream's current gauges over its long window (``recent``: its last
        ``min_searches``); ``top=False`` leaves out the most retrieved document, which
        takes a scan of the window, for a caller reading the gauges after every search."""
        with self._lock:
            return [state.gauges(recent, top) for state in self._streams.values()]

    def collapsed(self) -> list[CollapseGauges]:
        """The streams in collapse now."""
        with self._lock:
            return [state.gauges() for state in self._streams.values() if state.collapsed]

    def _judge(self, state: "_Stream", at: float) -> CollapseAlert | None:
        t = self.thresholds
        if state.long.active < t.min_searches or state.reach() < t.min_reach * state.long.k():
            return None
        judged = [(recent, state.gauges(recent, top=False)) for recent in (True, False)
                  if (state.recent if recent else state.long).active >= t.min_searches]
        if not state.collapsed:
            for recent, gauges in judged:
                breached = t.breached(gauges)
                if len(breached) >= t.breaches:
                    state.collapsed = True
                    return CollapseAlert("collapsed", state.gauges(recent), breached, at)
        elif all(len(t.breached(gauges, t.recovery)) < t.breaches for _, gauges in judged):
            state.collapsed = False
            return CollapseAlert("recovered", state.gauges(), (), at)
        return None

    def _raise(self, alert: CollapseAlert) -> None:
        self.alerts.append(alert)
        level = logging.WARNING if alert.state == "collapsed" else logging.INFO
        logger.log(level, alert.message(), extra={"rag_plugins": {"event": "collapse", "state": alert.state,
                                                                   "breached": list(alert.breached),
                                                                   **alert.gauges.to_dict()}})
        if self.on_alert is not None:
            try:
                self.on_alert(alert)
            except Exception:  # the callback must not fail the search that triggered it
                logger.warning("collapse alert callback failed", exc_info=True)


@dataclass(frozen=True, eq=False)
class _Entry:
    at: float
    query: str
    docs: tuple[str, ...]


@dataclass
class _Window:
    """Searches and the running sums the gauges are read from."""

    entries: deque[_Entry] = field(default_factory=deque)
    latest: dict[str, _Entry] = field(default_factory=dict)
    doc_count: Counter[str] = field(default_factory=Counter)
    count_of_counts: Counter[int] = field(default_factory=Counter)
    max_count: int = 0
    slots: int = 0
    c_log_c: float = 0.0
    signatures: Counter[frozenset[str]] = field(default_factory=Counter)
    duplicated: int = 0

    @property
    def active(self) -> int:
        return len(self.latest)

    def k(self) -> float:
        """Documents per search, on average."""
        return self.slots / self.active if self.active else 0.0

    def add(self, entry: _Entry) -> None:
        previous = self.latest.get(entry.query)
        if previous is not None:
            self._count(previous, -1)
            del self.latest[entry.query]
        self.entries.append(entry)
        self.latest[entry.query] = entry
        self._count(entry, +1)

    def expire(self, size: int, oldest: float) -> None:
        while self.entries and (len(self.entries) > size or self.entries[0].at < oldest):
            entry = self.entries.popleft()
            if self.latest.get(entry.query) is entry:
                self._count(entry, -1)
                del self.latest[entry.query]

    def _count(self, entry: _Entry, sign: int) -> None:
        for doc in entry.docs:
            before = self.doc_count[doc]
            after = before + sign
            self.c_log_c += _c_log_c(after) - _c_log_c(before)
            if before:
                self.count_of_counts[before] -= 1
            if after:
                self.count_of_counts[after] += 1
            if after:
                self.doc_count[doc] = after
            else:
                del self.doc_count[doc]
            if after > self.max_count:
                self.max_count = after
            elif before == self.max_count and self.count_of_counts[before] <= 0:
                self.max_count = after
        self.slots += sign * len(entry.docs)
        signature = frozenset(entry.docs)
        before = self.signatures[signature]
        after = before + sign
        # entries sharing their set with another: a set held by c >= 2 entries contributes c
        self.duplicated += (after if after >= 2 else 0) - (before if before >= 2 else 0)
        if after:
            self.signatures[signature] = after
        else:
            del self.signatures[signature]

    def gauges(self, stream: Stream, reach: int, top: bool) -> CollapseGauges:
        """The gauges now; finding the top document scans the window, so the per-search
        check leaves it out (``top=False``)."""
        searches, slots = self.active, self.slots
        reach = min(slots, reach)
        if slots > 1 and reach > 1:
            entropy = (math.log(slots) - self.c_log_c / slots) / math.log(reach)
        else:
            entropy = 1.0
        top_document = None
        if top and self.max_count:
            top_document = next(doc for doc, count in self.doc_count.items() if count == self.max_count)
        return CollapseGauges(
            stream[0], stream[1], searches,
            unique_document_rate=min(1.0, len(self.doc_count) / reach) if reach else 1.0,
            entropy=max(0.0, min(1.0, entropy)),
            top_document_share=self.max_count / searches if searches else 0.0,
            same_results_rate=self.duplicated / searches if searches else 0.0,
            top_document=top_document)


@dataclass
class _Stream:
    """One retriever under one filter: its two windows, and the documents it can reach."""

    key: Stream
    long: _Window = field(default_factory=_Window)
    recent: _Window = field(default_factory=_Window)
    seen: set[str] = field(default_factory=set)
    documents: int | None = None
    collapsed: bool = False

    def reach(self) -> int:
        """How many documents this stream can return: the base's, or those seen so far."""
        return self.documents if self.documents is not None else len(self.seen)

    def add(self, at: float, query: str, docs: tuple[str, ...]) -> None:
        if len(self.seen) < _SEEN_CAP:
            self.seen.update(docs)
        entry = _Entry(at, query, docs)
        self.long.add(entry)
        self.recent.add(entry)

    def gauges(self, recent: bool = False, top: bool = True) -> CollapseGauges:
        return (self.recent if recent else self.long).gauges(self.key, self.reach(), top)


# past this many distinct documents a stream's reach exceeds any window's slots
_SEEN_CAP = 100_000


def _c_log_c(c: int) -> float:
    return c * math.log(c) if c > 0 else 0.0
