"""OpenTelemetry: each search is a ``retrieval`` span under the caller's span, with the
GenAI retrieval attributes, a child span per stage, and the duration histogram; the query
text is recorded only when asked."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import SpanKind  # noqa: E402

from rag_plugins import Document, KnowledgeBase  # noqa: E402
from rag_plugins.ops import OpenTelemetryTracing  # noqa: E402
from rag_plugins.tracing import ObservedRetriever, traced_search  # noqa: E402


@pytest.fixture
def otel():
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    return tracer_provider, MeterProvider(metric_readers=[reader]), exporter, reader


@pytest.fixture
def kb(tmp_path):
    with KnowledgeBase.open(tmp_path / "policies") as base:
        base.upsert([Document("a", "Refunds within 30 days."), Document("b", "Shipping takes two days.")])
        base.commit()
        yield base


def test_a_search_is_a_retrieval_span_with_the_genai_attributes(kb, otel):
    tracer_provider, meter_provider, exporter, reader = otel
    tracing = OpenTelemetryTracing.for_knowledge_base(kb, tracer_provider=tracer_provider,
                                                      meter_provider=meter_provider)
    tracer = tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("answer question") as parent:
        hits = ObservedRetriever(kb.bm25_retriever(), tracing).retrieve("refunds days", k=2)
    [span] = [s for s in exporter.get_finished_spans()
              if s.parent is not None and s.parent.span_id == parent.get_span_context().span_id]
    assert span.name == "retrieval" and span.kind == SpanKind.INTERNAL
    attrs = span.attributes
    assert attrs["gen_ai.operation.name"] == "retrieval" and attrs["gen_ai.data_source.id"] == "policies"
    assert attrs["gen_ai.retrieval.top_k"] == 2 and attrs["rag_plugins.retriever"] == "bm25"
    assert json.loads(attrs["gen_ai.retrieval.documents"]) == [{"id": h.chunk.id, "score": h.score} for h in hits]
    assert "gen_ai.retrieval.query.text" not in attrs and tuple(attrs["rag_plugins.generations"]) == (1,)
    [stage] = [s for s in exporter.get_finished_spans() if s.parent is not None and s.parent.span_id ==
               span.context.span_id]
    assert stage.name == "rag_plugins.retrieval" and span.start_time <= stage.start_time <= stage.end_time <= span.end_time
    points = {m.name: m for rm in reader.get_metrics_data().resource_metrics for sm in rm.scope_metrics
              for m in sm.metrics}
    histogram = points["gen_ai.retrieval.duration"].data.data_points[0]
    assert histogram.count == 1 and histogram.sum == pytest.approx((span.end_time - span.start_time) / 1e9, rel=1e-3)
    assert points["rag_plugins.searches"].data.data_points[0].value == 1


def test_the_query_text_only_when_asked(kb, otel):
    tracer_provider, meter_provider, exporter, _ = otel
    tracing = OpenTelemetryTracing(tracer_provider=tracer_provider, meter_provider=meter_provider,
                                   record_queries=True)
    traced_search(kb.bm25_retriever(), "shipping time", k=1, observers=[tracing])
    [span] = [s for s in exporter.get_finished_spans() if s.parent is None]
    assert span.attributes["gen_ai.retrieval.query.text"] == "shipping time"
    assert "gen_ai.data_source.id" not in span.attributes


def test_serve_mcp_otel_flag_adds_the_observer(kb):
    import argparse

    from rag_plugins.cli.serve_mcp import _observers

    observers, log = _observers(argparse.Namespace(otel=True, retrieval_log=None, metrics_port=None,
                                                   log_queries=False), kb)
    assert log is None and [type(o).__name__ for o in observers] == ["OpenTelemetryTracing"]
    assert observers[0].data_source == "policies"
