"""Watch retrieval for rot: log every search and catch a collapse as it starts.

    python examples/monitor_retrieval.py [--kb DIR] [--limit 300]

The demo base is searched through the LangChain-free core the way every adapter, tool and
the MCP server search it: an ``ObservedRetriever`` hands each finished search to a
``RetrievalLog`` (``<kb>/retrieval_log.sqlite``, written by a background thread) and to a
``CollapseMonitor`` (and counted for Prometheus). Healthy traffic (the demo's questions and paragraph titles) raises
nothing; then the retriever "breaks" and returns the same three paragraphs whatever is
asked, and the monitor says so at the 20th distinct query. The log is read back at the end,
as a report or a monitor in another process would read it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _kb import CORPUS, example_parser, kb_directory  # noqa: E402
from _model import example_embedding_model  # noqa: E402

from rag_plugins import KnowledgeBase  # noqa: E402
from rag_plugins.loaders import load_documents  # noqa: E402
from prometheus_client import CollectorRegistry, generate_latest  # noqa: E402

from rag_plugins.ops import CollapseMonitor, RetrievalLog, read_retrieval_log  # noqa: E402
from rag_plugins.ops.metrics import PrometheusMetrics  # noqa: E402
from rag_plugins.retrievers.base import BaseRetriever  # noqa: E402
from rag_plugins.tracing import ObservedRetriever  # noqa: E402

QUESTIONS = CORPUS.parent / "hotpotqa_questions.jsonl"


class Broken(BaseRetriever):
    """The failure to catch: a retriever stuck on three documents (a bad index swap, a
    filter bug, an embedding model serving zeros all look like this from outside)."""

    name = "hybrid"

    def __init__(self, healthy, stuck_on: list):
        self.healthy, self.stuck_on, self.broken = healthy, stuck_on, False

    def _retrieve(self, query, k, filters):
        return self.stuck_on[:k] if self.broken else self.healthy.retrieve(query, k=k, filters=filters)


def main() -> None:
    parser = example_parser(__doc__)
    parser.set_defaults(limit=300)
    args = parser.parse_args()
    directory = kb_directory(args, "monitor")
    kb = KnowledgeBase.open(directory, embedder=example_embedding_model(), show_progress=False)
    documents = list(load_documents([CORPUS]))[: args.limit]
    kb.upsert(documents)
    kb.commit()
    questions = [json.loads(line)["text"] for line in QUESTIONS.read_text().splitlines()]
    titles = list(dict.fromkeys(d.metadata["title"] for d in documents))
    print(f"knowledge base {directory}: {len(kb)} documents")

    retriever = Broken(kb.hybrid_retriever(), kb.bm25_retriever().retrieve("Shirley Temple", k=3))
    monitor = CollapseMonitor.for_knowledge_base(kb, on_alert=lambda alert: print("ALERT:", alert.message()))
    registry = CollectorRegistry()  # what `metrics.serve(9464)` would expose at /metrics
    metrics = PrometheusMetrics(registry, collapse=monitor)
    with RetrievalLog(kb.path, store_queries=True) as log:
        searched = ObservedRetriever(retriever, log, monitor, metrics)
        for query in questions + titles[:90]:
            searched.retrieve(query, k=4)
        (gauges,) = monitor.gauges()
        print(f"healthy: {gauges.searches} distinct queries, unique-document rate {gauges.unique_document_rate:.2f}, "
              f"top document in {gauges.top_document_share:.0%} of results, alerts {len(monitor.alerts)}")
        retriever.broken = True
        for n, query in enumerate(titles[90:], 1):
            searched.retrieve(query, k=4)
            if monitor.collapsed():
                print(f"flagged after {n} searches of the broken retriever")
                break
        log.flush()
    rows = read_retrieval_log(directory)
    healthy = rows[0]
    print(f"retrieval log {log.path.name}: {len(rows)} searches; the first: {healthy.query[:40]!r}... -> "
          f"{healthy.document_ids} via {healthy.retriever} from generation {healthy.generations}, "
          f"{1000 * healthy.timings['total']:.1f} ms; the last: {rows[-1].document_ids}")
    exported = generate_latest(registry).decode().splitlines()
    for line in exported:
        if line.startswith(("rag_plugins_searches_total", "rag_plugins_collapse_collapsed")):
            print("metric:", line)


if __name__ == "__main__":
    main()
