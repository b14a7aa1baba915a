"""Search metrics for Prometheus: counters and histograms per search, and the monitors'
gauges read at scrape time.

Needs ``prometheus_client`` (``pip install "rag-plugins[metrics]"``). The names follow
Prometheus conventions (``_total`` counters, ``_seconds`` histograms, base units):

- ``rag_plugins_searches_total{retriever, status}``: searches, by confidence status
  (``none`` without a confidence policy);
- ``rag_plugins_abstentions_total{retriever}``;
- ``rag_plugins_search_seconds{retriever, stage}``: time per stage (``routing``,
  ``retrieval``, ``rerank``, ``confidence``, ``total``);
- ``rag_plugins_search_confidence{retriever}``: the calibrated confidence;
- ``rag_plugins_search_hits{retriever}``: hits returned;
- ``rag_plugins_retrieved_age_seconds{retriever}``: per hit, how old its text was when it
  was retrieved (from the chunk's freshness stamps);
- from a :class:`~rag_plugins.ops.CollapseMonitor`: ``rag_plugins_collapse_<gauge>{retriever,
  filter}`` and ``rag_plugins_collapse_collapsed``; from an
  :class:`~rag_plugins.ops.AnnRecallMonitor`: ``rag_plugins_ann_recall{kind}``;
- from the ``knowledge_base`` given, at most once a minute: ``rag_plugins_unchecked_sources``
  (not re-checked by a sync within 30 days), the last regression verdict
  (``rag_plugins_regression_passed``, ``_recall``, ``_mrr``, ``_regressed_queries``) and the
  last re-index's drift (``rag_plugins_drift_overlap``, ``_rank_correlation``, ``_top1_changed``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterator

from rag_plugins._deps import require
from rag_plugins.ops.gate import BASELINE, DRIFT, last_run_path
from rag_plugins.ops.retrieval_log import content_time
from rag_plugins.ops.staleness import DAY, unchecked_sources
_AGE_BUCKETS = tuple(days * DAY for days in (1, 7, 30, 90, 180, 365, 730, 1825))

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_CONFIDENCE_BUCKETS = tuple(i / 10 for i in range(1, 11))
_HIT_BUCKETS = (0, 1, 2, 3, 5, 10, 20, 50, 100)
COLLAPSE_GAUGES = ("unique_document_rate", "entropy", "top_document_share", "same_results_rate")


class PrometheusMetrics:
    """An observer that counts every search into a ``prometheus_client`` registry.

    Give it to :class:`~rag_plugins.tracing.ObservedRetriever` (or
    ``Toolkit.from_knowledge_base(observers=...)``, ``serve-mcp --metrics-port``), with the
    ``collapse`` and ``ann`` monitors whose gauges it should export; :meth:`serve` starts
    the ``/metrics`` endpoint (loopback by default).

    >>> import tempfile
    >>> from prometheus_client import CollectorRegistry
    >>> from rag_plugins import Document, KnowledgeBase
    >>> from rag_plugins.tracing import ObservedRetriever
    >>> kb = KnowledgeBase.open(tempfile.mkdtemp())
    >>> _ = kb.upsert([Document("a", "Pears are sweet."), Document("b", "Bolts are steel.")]); _ = kb.commit()
    >>> metrics = PrometheusMetrics(CollectorRegistry())
    >>> _ = ObservedRetriever(kb.bm25_retriever(), metrics).retrieve("pears", k=1)
    >>> metrics.registry.get_sample_value("rag_plugins_searches_total", {"retriever": "bm25", "status": "none"})
    1.0
    """

    def __init__(self, registry: Any = None, *, collapse: Any = None, ann: Any = None, knowledge_base: Any = None,
                 unchecked_days: float = 30.0):
        prometheus = require("prometheus_client", "Prometheus metrics")
        self.registry = registry if registry is not None else prometheus.REGISTRY
        labels = ("retriever",)
        self.searches = prometheus.Counter("rag_plugins_searches", "Searches, by confidence status",
                                           ("retriever", "status"), registry=self.registry)
        self.abstentions = prometheus.Counter("rag_plugins_abstentions", "Searches that abstained", labels,
                                              registry=self.registry)
        self.seconds = prometheus.Histogram("rag_plugins_search_seconds", "Time per search stage",
                                            ("retriever", "stage"), buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.confidence = prometheus.Histogram("rag_plugins_search_confidence", "Calibrated retrieval confidence",
                                               labels, buckets=_CONFIDENCE_BUCKETS, registry=self.registry)
        self.hits = prometheus.Histogram("rag_plugins_search_hits", "Hits returned per search", labels,
                                         buckets=_HIT_BUCKETS, registry=self.registry)
        self.age = prometheus.Histogram("rag_plugins_retrieved_age_seconds",
                                        "Age of each retrieved hit's text when it was retrieved", labels,
                                        buckets=_AGE_BUCKETS, registry=self.registry)
        self.collapse, self.ann, self.knowledge_base = collapse, ann, knowledge_base
        self.unchecked_days = unchecked_days
        self._base_gauges: tuple[float, list] = (0.0, [])
        if collapse is not None or ann is not None or knowledge_base is not None:
            core = require("prometheus_client.core", "Prometheus metrics")
            self.registry.register(_MonitorCollector(self, core.GaugeMetricFamily))

    def observe(self, search: Any) -> None:
        retriever = search.retriever
        confidence = search.confidence or {}
        self.searches.labels(retriever, confidence.get("status") or "none").inc()
        if search.abstained:
            self.abstentions.labels(retriever).inc()
        for stage, seconds in search.timings.items():
            self.seconds.labels(retriever, stage).observe(seconds)
        if confidence.get("confidence") is not None:
            self.confidence.labels(retriever).observe(float(confidence["confidence"]))
        self.hits.labels(retriever).observe(len(search.hits))
        for hit in search.hits:
            born = content_time(hit)
            if born is not None:
                self.age.labels(retriever).observe(max(0.0, (search.started_at or time.time()) - born))

    def base_gauges(self) -> list[tuple[str, str, float]]:
        """(name, help, value) of the knowledge base's gauges, read at most once a minute."""
        at, cached = self._base_gauges
        if self.knowledge_base is None or time.monotonic() - at < 60:
            return cached
        kb = self.knowledge_base
        gauges = [("rag_plugins_unchecked_sources", f"Sources no sync re-checked within {self.unchecked_days:g} days",
                   float(len(unchecked_sources(kb, self.unchecked_days))))]
        verdict = _read_json(last_run_path(Path(kb.path) / BASELINE))
        if verdict is not None:
            gauges += [("rag_plugins_regression_passed", "1 when the last regression gate passed",
                        float(bool(verdict.get("passed")))),
                       ("rag_plugins_regression_recall", "Recall@k of the last regression run", verdict["recall"]["now"]),
                       ("rag_plugins_regression_mrr", "MRR@k of the last regression run", verdict["mrr"]["now"]),
                       ("rag_plugins_regression_regressed_queries", "Golden queries that got worse in the last run",
                        float(len(verdict.get("regressions", []))))]
        drift = _read_json(Path(kb.path) / DRIFT)
        if drift is not None:
            for key, name in ((f"overlap@{drift['k']}", "overlap"), ("rank_correlation", "rank_correlation"),
                              ("top1_changed", "top1_changed")):
                if drift.get(key) is not None:
                    gauges.append((f"rag_plugins_drift_{name}", f"Last re-index: {name.replace('_', ' ')}",
                                   float(drift[key])))
        self._base_gauges = (time.monotonic(), gauges)
        return gauges

    def serve(self, port: int, address: str = "127.0.0.1") -> Any:
        """Serve ``/metrics`` on ``address:port`` in a daemon thread; the HTTP server."""
        prometheus = require("prometheus_client", "Prometheus metrics")
        server, _ = prometheus.start_http_server(port, addr=address, registry=self.registry)
        return server


class _MonitorCollector:
    """The monitors' gauges, read when Prometheus scrapes."""

    def __init__(self, metrics: PrometheusMetrics, family: Any):
        self.metrics, self.family = metrics, family

    def describe(self) -> list:
        return []

    def collect(self) -> Iterator[Any]:
        collapse, ann = self.metrics.collapse, self.metrics.ann
        if collapse is not None:
            streams = collapse.gauges()
            collapsed = {(g.retriever, g.filters_hash) for g in collapse.collapsed()}
            for name in COLLAPSE_GAUGES:
                family = self.family(f"rag_plugins_collapse_{name}", f"Collapse monitor: {name.replace('_', ' ')}",
                                     labels=("retriever", "filter"))
                for g in streams:
                    family.add_metric((g.retriever, g.filters_hash), getattr(g, name))
                yield family
            family = self.family("rag_plugins_collapse_collapsed", "1 while a stream is in collapse",
                                 labels=("retriever", "filter"))
            for g in streams:
                family.add_metric((g.retriever, g.filters_hash), float((g.retriever, g.filters_hash) in collapsed))
            yield family
        for name, description, value in self.metrics.base_gauges():
            family = self.family(name, description)
            family.add_metric((), value)
            yield family
        if ann is not None and ann.last is not None:
            family = self.family("rag_plugins_ann_recall", "Vector index recall@k against exact search",
                                 labels=("kind",))
            family.add_metric((ann.last.kind,), ann.last.recall)
            yield family


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
