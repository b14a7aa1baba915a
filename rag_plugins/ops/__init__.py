"""Operating retrieval: a log of every search and monitors that read it.

:class:`RetrievalLog` records each search (``<kb>/retrieval_log.sqlite``) without blocking
it; :class:`CollapseMonitor` watches for the same few documents coming back whatever is
asked. Attach either to a retriever with :class:`~rag_plugins.tracing.ObservedRetriever`.
"""

from rag_plugins.ops.collapse import CollapseAlert, CollapseGauges, CollapseMonitor, CollapseThresholds
from rag_plugins.ops.fingerprints import filters_fingerprint, query_fingerprint
from rag_plugins.ops.retrieval_log import LoggedHit, LoggedSearch, RetrievalLog, read_retrieval_log

__all__ = [
    "CollapseAlert", "CollapseGauges", "CollapseMonitor", "CollapseThresholds", "LoggedHit", "LoggedSearch",
    "RetrievalLog", "filters_fingerprint", "query_fingerprint", "read_retrieval_log",
]
