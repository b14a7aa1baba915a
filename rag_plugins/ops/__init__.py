"""Operating retrieval: a log of every search and monitors that read it.

:class:`RetrievalLog` records each search (``<kb>/retrieval_log.sqlite``) without blocking
it; :class:`CollapseMonitor` watches for the same few documents coming back whatever is
asked. Attach either to a retriever with :class:`~rag_plugins.tracing.ObservedRetriever`.
The regression gate (:func:`run_golden`, :func:`compare`; ``rag-plugins regress``) fails a
re-index that made golden queries worse than a stored baseline; :class:`AnnRecallMonitor`
measures an approximate vector index against exact search after each commit.
"""

from rag_plugins.ops.ann_recall import AnnRecall, AnnRecallMonitor, ann_recall
from rag_plugins.ops.collapse import CollapseAlert, CollapseGauges, CollapseMonitor, CollapseThresholds
from rag_plugins.ops.fingerprints import filters_fingerprint, query_fingerprint
from rag_plugins.ops.regression import (
    GoldenQuery, GoldenRun, RegressionReport, compare, golden_from_qrels, load_golden, run_golden, write_golden,
)
from rag_plugins.ops.retrieval_log import LoggedHit, LoggedSearch, RetrievalLog, read_retrieval_log

__all__ = [
    "AnnRecall", "AnnRecallMonitor", "CollapseAlert", "CollapseGauges", "CollapseMonitor", "CollapseThresholds", "GoldenQuery", "GoldenRun",
    "LoggedHit", "LoggedSearch", "RegressionReport", "RetrievalLog", "compare", "filters_fingerprint",
    "ann_recall", "golden_from_qrels", "load_golden", "query_fingerprint", "read_retrieval_log", "run_golden", "write_golden",
]
