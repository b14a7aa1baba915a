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
- from a :class:`~rag_plugins.ops.CollapseMonitor`: ``rag_plugins_collapse_<gauge>{retriever,
  filter}`` and ``rag_plugins_collapse_collapsed``; from an
  :class:`~rag_plugins.ops.AnnRecallMonitor`: ``rag_plugins_ann_recall{kind}``.
"""

from __future__ import annotations

from typing import Any, Iterator

from rag_plugins._deps import require

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

    def __init__(self, registry: Any = None, *, collapse: Any = None, ann: Any = None):
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
        self.collapse, self.ann = collapse, ann
        if collapse is not None or ann is not None:
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
        if ann is not None and ann.last is not None:
            family = self.family("rag_plugins_ann_recall", "Vector index recall@k against exact search",
                                 labels=("kind",))
            family.add_metric((ann.last.kind,), ann.last.recall)
            yield family
