"""OpenTelemetry spans and metrics for searches, following the GenAI semantic conventions
for retrieval (``gen_ai.retrieval``, Development status in semantic-conventions-genai).

:class:`OpenTelemetryTracing` is a search observer: hand it to
:class:`~rag_plugins.tracing.ObservedRetriever`, ``traced_search(observers=...)`` or the
toolkit, and each search becomes one span named ``retrieval`` (kind ``INTERNAL``) under
whatever span is current, timed from the search's own start and duration, with a child
span per stage (``rag_plugins.retrieval``, ``.rerank``, ``.confidence``). Attributes:

* ``gen_ai.operation.name`` = ``retrieval``, ``gen_ai.data_source.id`` (the base's folder
  name, or ``data_source=``), ``gen_ai.retrieval.top_k``;
* ``gen_ai.retrieval.documents``: the hits as JSON ``[{"id", "score"}]`` (chunk ids);
* ``gen_ai.retrieval.query.text`` only with ``record_queries=True`` (it is user content);
* ``rag_plugins.retriever``, ``.route``, ``.status``, ``.confidence``, ``.abstained``,
  ``.generations``, ``.hits``.

Metrics, through the meter provider: the ``gen_ai.retrieval.duration`` histogram (seconds)
and a ``rag_plugins.searches`` counter by retriever and status. ``pip install
"rag-plugins[otel]"``; configure the SDK and exporters as usual, or pass providers.

>>> from opentelemetry.sdk.trace import TracerProvider                 # doctest: +SKIP
>>> tracing = OpenTelemetryTracing(tracer_provider=TracerProvider())    # doctest: +SKIP
>>> ObservedRetriever(kb.hybrid_retriever(), tracing).retrieve("query")  # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rag_plugins._deps import require

OPERATION = "retrieval"
STAGES = ("retrieval", "rerank", "confidence")


class OpenTelemetryTracing:
    """A search observer that records spans and metrics (see the module doc)."""

    def __init__(self, *, tracer_provider: Any = None, meter_provider: Any = None, data_source: str | Path | None = None,
                 record_queries: bool = False):
        require("opentelemetry.trace", "OpenTelemetry tracing")
        from opentelemetry import metrics, trace

        self._trace = trace
        self.tracer = trace.get_tracer("rag_plugins", tracer_provider=tracer_provider)
        meter = metrics.get_meter("rag_plugins", meter_provider=meter_provider)
        self.duration = meter.create_histogram("gen_ai.retrieval.duration", unit="s",
                                               description="Duration of retrieval operations")
        self.searches = meter.create_counter("rag_plugins.searches", unit="{search}", description="Searches observed")
        self.data_source = Path(data_source).name if isinstance(data_source, Path) else data_source
        self.record_queries = record_queries

    @classmethod
    def for_knowledge_base(cls, kb: Any, **options: Any) -> "OpenTelemetryTracing":
        """Spans naming ``kb``'s folder as their data source."""
        return cls(data_source=Path(kb.path).name, **options)

    def observe(self, search: Any) -> None:
        start = int(search.started_at * 1e9)
        end = start + int(search.timings.get("total", 0.0) * 1e9)
        attributes = self._attributes(search)
        span = self.tracer.start_span(OPERATION, kind=self._trace.SpanKind.INTERNAL, start_time=start,
                                      attributes=attributes)
        context = self._trace.set_span_in_context(span)
        offset = start
        for stage in STAGES:
            if stage in search.timings:
                seconds = search.timings[stage]
                child = self.tracer.start_span(f"rag_plugins.{stage}", context=context, start_time=offset)
                child.end(end_time=offset + int(seconds * 1e9))
                offset += int(seconds * 1e9)
        span.end(end_time=end)
        common = {"gen_ai.operation.name": OPERATION, "rag_plugins.retriever": search.retriever}
        if self.data_source:
            common["gen_ai.data_source.id"] = self.data_source
        self.duration.record(search.timings.get("total", 0.0), common)
        status = (search.confidence or {}).get("status") or ("abstained" if search.abstained else "ok")
        self.searches.add(1, {**common, "rag_plugins.status": status})

    def _attributes(self, search: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "gen_ai.operation.name": OPERATION,
            "gen_ai.retrieval.top_k": int(search.k),
            "gen_ai.retrieval.documents": json.dumps([{"id": h.chunk.id, "score": float(h.score)}
                                                     for h in search.hits]),
            "rag_plugins.retriever": search.retriever,
            "rag_plugins.hits": len(search.hits),
            "rag_plugins.abstained": bool(search.abstained),
            "rag_plugins.generations": list(search.generations),
        }
        if self.data_source:
            out["gen_ai.data_source.id"] = self.data_source
        if self.record_queries:
            out["gen_ai.retrieval.query.text"] = search.query
        if search.route:
            out["rag_plugins.route"] = list(search.route.get("routes", ()))
        if search.confidence:
            out["rag_plugins.status"] = search.confidence.get("status")
            out["rag_plugins.confidence"] = float(search.confidence.get("confidence"))
        return out
