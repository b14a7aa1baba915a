"""Searches as OpenTelemetry spans, under your application's own span.

    python examples/otel_spans.py [--kb DIR]

An SDK tracer provider with an in-memory exporter stands in for your collector (swap in
an OTLP exporter in production). A hybrid search inside the application's span ``answer
question`` becomes a ``retrieval`` span with the GenAI retrieval attributes and a child per
stage; the duration histogram lands in the meter provider. ``rag-plugins serve-mcp --otel``
does the same through the globally configured providers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _kb import example_parser, kb_directory  # noqa: E402
from _model import example_embedding_model  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

from rag_plugins import Document, KnowledgeBase  # noqa: E402
from rag_plugins.ops import OpenTelemetryTracing  # noqa: E402
from rag_plugins.tracing import ObservedRetriever  # noqa: E402


def main() -> None:
    args = example_parser(__doc__).parse_args()
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    with KnowledgeBase.open(kb_directory(args, "otel"), embedder=example_embedding_model(), show_progress=False) as kb:
        kb.upsert([Document("refunds", "Refunds are accepted within 30 days of purchase."),
                   Document("shipping", "Orders ship within two business days.")])
        kb.commit()
        tracing = OpenTelemetryTracing.for_knowledge_base(kb, tracer_provider=tracer_provider,
                                                          meter_provider=MeterProvider(metric_readers=[reader]))
        search = ObservedRetriever(kb.hybrid_retriever(), tracing)
        with tracer_provider.get_tracer("my-app").start_as_current_span("answer question"):
            search.retrieve("how long do refunds take", k=2)
    spans = {span.context.span_id: span for span in exporter.get_finished_spans()}
    for span in sorted(spans.values(), key=lambda s: s.start_time):
        parent = spans.get(span.parent.span_id).name if span.parent and span.parent.span_id in spans else "-"
        print(f"span {span.name!r} (parent {parent!r}): {(span.end_time - span.start_time) / 1e6:.1f} ms")
    retrieval = next(s for s in spans.values() if s.name == "retrieval")
    for key in ("gen_ai.operation.name", "gen_ai.data_source.id", "gen_ai.retrieval.top_k", "rag_plugins.retriever"):
        print(f"  {key} = {retrieval.attributes[key]}")
    documents = json.loads(retrieval.attributes["gen_ai.retrieval.documents"])
    print(f"  gen_ai.retrieval.documents = {[d['id'] for d in documents]}")
    metrics = [m.name for rm in reader.get_metrics_data().resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
    print(f"metrics: {', '.join(sorted(metrics))}")


if __name__ == "__main__":
    main()
