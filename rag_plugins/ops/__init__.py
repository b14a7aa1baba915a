"""Operating retrieval: a log of every search and monitors that read it.

:class:`RetrievalLog` records each search (``<kb>/retrieval_log.sqlite``) without blocking
it; :class:`CollapseMonitor` watches for the same few documents coming back whatever is
asked. Attach either to a retriever with :class:`~rag_plugins.tracing.ObservedRetriever`.
The regression gate (:func:`run_golden`, :func:`compare`; ``rag-plugins regress``) fails a
re-index that made golden queries worse than a stored baseline; :class:`AnnRecallMonitor`
measures an approximate vector index against exact search after each commit.
:class:`RegressionGate` runs the gate as a step of a commit, a sync or a re-index switch;
:func:`measure_drift` compares a re-embedded generation with the current one;
:func:`staleness` lists what no sync re-checked and ages what was retrieved;
:class:`OpenTelemetryTracing` turns searches into spans and metrics.
"""

from rag_plugins.ops.ann_recall import AnnRecall, AnnRecallMonitor, ann_recall
from rag_plugins.ops.collapse import CollapseAlert, CollapseGauges, CollapseMonitor, CollapseThresholds
from rag_plugins.ops.fingerprints import filters_fingerprint, query_fingerprint
from rag_plugins.ops.drift import DriftReport, measure_drift
from rag_plugins.ops.gate import GateVerdict, RegressionGate
from rag_plugins.ops.otel import OpenTelemetryTracing
from rag_plugins.ops.regression import (
    GoldenQuery, GoldenRun, RegressionReport, compare, golden_from_feedback, golden_from_qrels, load_golden, run_golden,
    write_golden,
)
from rag_plugins.ops.retrieval_log import (
    Feedback, LoggedHit, LoggedSearch, RetrievalLog, read_feedback, read_retrieval_log, read_write_backs,
)
from rag_plugins.ops.staleness import StalenessReport, staleness

__all__ = [
    "AnnRecall", "AnnRecallMonitor", "CollapseAlert", "CollapseGauges", "CollapseMonitor", "CollapseThresholds",
    "DriftReport", "Feedback", "GateVerdict", "GoldenQuery", "GoldenRun", "LoggedHit", "LoggedSearch",
    "OpenTelemetryTracing", "RegressionGate", "RegressionReport", "RetrievalLog", "StalenessReport", "ann_recall",
    "compare", "filters_fingerprint", "golden_from_feedback", "golden_from_qrels", "load_golden", "measure_drift",
    "query_fingerprint", "read_feedback", "read_retrieval_log", "read_write_backs", "run_golden", "staleness",
    "write_golden",
]
