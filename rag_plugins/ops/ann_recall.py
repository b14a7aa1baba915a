"""ANN recall: how much of the exact top k an approximate vector index (HNSW, IVF) returns.

An HNSW graph searched with too small an ``ef_search``, or an IVF index probing too few
lists after the corpus grew, loses neighbours without any error; dense retrieval quietly gets
worse. :func:`ann_recall` measures it for a set of queries against exact search over the same
generation's vectors; :class:`AnnRecallMonitor` keeps a sample of live queries and measures
on it whenever a search reads a new generation (after each commit), alerting below a
threshold.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import numpy as np

from rag_plugins.errors import InvalidInputError

logger = logging.getLogger("rag_plugins.ops")


@dataclass(frozen=True)
class AnnRecall:
    """Recall@k of the vector index (``kind``, its search settings) on ``queries`` queries
    of ``generation``: the mean share of the exact top k that the index returned."""

    kind: str
    k: int
    generation: int
    queries: int
    recall: float
    worst: float
    settings: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ann_recall(kb: Any, queries: Sequence[str], k: int = 10) -> AnnRecall:
    """Recall@k of ``kb``'s vector index against exact inner-product search on the same
    generation, for ``queries`` (embedded with the base's model): for an HNSW base,
    ``ann_recall(kb, ["how do I rotate keys?", ...]).recall``."""
    if not queries:
        raise InvalidInputError("ann_recall needs at least one query")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidInputError(f"k must be a positive integer, got {k!r}")
    snapshot = kb.searchable_snapshot()
    vectors = snapshot.index("vectors").vectors
    live = vectors.live_rows()
    k = min(k, len(live))
    if k == 0:
        raise InvalidInputError(f"{kb.path} has no vectors to measure")
    embedded = np.asarray(kb.embed_queries(list(queries)), np.float32)
    approximate = vectors.search(embedded, k)
    exact_scores = embedded @ vectors.reconstruct(live).T
    shares = []
    for (rows, _), scores in zip(approximate, exact_scores):
        exact = live[np.argsort(-scores, kind="stable")[:k]]
        shares.append(len(set(rows.tolist()) & set(exact.tolist())) / k)
    config = vectors.config
    settings = {"hnsw": {"hnsw_m": config.hnsw_m, "ef_search": config.ef_search},
                "ivf": {"nlist": config.nlist, "nprobe": config.nprobe}}.get(config.kind, {})
    return AnnRecall(config.kind, k, snapshot.generation, len(shares), float(np.mean(shares)), float(min(shares)),
                     settings)


class AnnRecallMonitor:
    """Measures the vector index's recall on recent live queries after each commit.

    As an observer (:class:`~rag_plugins.tracing.ObservedRetriever`), it keeps the last
    ``sample_size`` distinct query texts in memory (never on disk). When a search reads a
    generation it has not measured and it holds ``min_queries``, it measures
    :func:`ann_recall` on them in a background thread; :meth:`check` does the same at once.
    Below ``threshold`` it alerts: ``on_alert(recall)``, a WARNING record on the
    ``rag_plugins.ops`` logger, and :attr:`last` for the metrics. A flat (exact) index is
    never measured: it cannot lose neighbours.
    """

    def __init__(self, kb: Any, *, k: int = 10, threshold: float = 0.95, sample_size: int = 100,
                 min_queries: int = 20, on_alert: Callable[[AnnRecall], Any] | None = None):
        if not 0 < threshold <= 1:
            raise InvalidInputError(f"threshold must be in (0, 1], got {threshold!r}")
        if min_queries < 1 or sample_size < min_queries:
            raise InvalidInputError("sample_size must be at least min_queries, and both positive")
        self.kb, self.k, self.threshold = kb, k, threshold
        self.sample_size, self.min_queries, self.on_alert = sample_size, min_queries, on_alert
        self.last: AnnRecall | None = None
        self.alerts: list[AnnRecall] = []
        self._queries: OrderedDict[str, None] = OrderedDict()
        self._measured: set[int] = set()
        self._lock = threading.Lock()
        self._running: threading.Thread | None = None

    @property
    def approximate(self) -> bool:
        return self.kb.settings.get("vector_index", {}).get("kind", "flat") != "flat"

    def observe(self, search: Any) -> None:
        if not self.approximate:
            return
        with self._lock:
            self._queries[search.query] = None
            self._queries.move_to_end(search.query)
            while len(self._queries) > self.sample_size:
                self._queries.popitem(last=False)
            due = (len(self._queries) >= self.min_queries and any(g not in self._measured for g in search.generations)
                   and (self._running is None or not self._running.is_alive()))
            if due:
                self._measured.update(search.generations)
                self._running = threading.Thread(target=self._check_quietly, name="rag-plugins-ann-recall",
                                                 daemon=True)
                self._running.start()

    def wait(self, timeout: float = 60.0) -> None:
        """Wait for a background measurement, if one is running."""
        running = self._running
        if running is not None:
            running.join(timeout)

    def check(self, queries: Sequence[str] | None = None) -> AnnRecall:
        """Measure now, on ``queries`` or the live sample; alert when below the threshold."""
        with self._lock:
            sample = list(queries) if queries is not None else list(self._queries)
        result = ann_recall(self.kb, sample, self.k)
        self.last = result
        self._measured.add(result.generation)
        if result.recall < self.threshold:
            self.alerts.append(result)
            logger.warning("vector index recall@%d is %.3f on %d recent queries (generation %d, %s %s), below %.2f: "
                           "raise ef_search (HNSW) or nprobe (IVF), or rebuild the index", result.k, result.recall,
                           result.queries, result.generation, result.kind, result.settings, self.threshold,
                           extra={"rag_plugins": {"event": "ann_recall", **result.to_dict()}})
            if self.on_alert is not None:
                try:
                    self.on_alert(result)
                except Exception:
                    logger.warning("ann recall alert callback failed", exc_info=True)
        return result

    def _check_quietly(self) -> None:
        try:
            self.check()
        except Exception:  # a monitor must not take the server down
            logger.warning("measuring the vector index's recall failed", exc_info=True)
