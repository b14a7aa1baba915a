"""Prometheus metrics: every search counted and timed, the collapse gauges exported, all
scraped over HTTP from a real endpoint (and from a real serve-mcp process)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest

from rag_plugins import Document, KnowledgeBase
from rag_plugins.cli import main
from rag_plugins.confidence import AbstentionPolicy, ConfidenceEstimator
from rag_plugins.errors import MissingDependencyError
from rag_plugins.ops import CollapseMonitor
from rag_plugins.tracing import ObservedRetriever, traced_search

prometheus_client = pytest.importorskip("prometheus_client")

from rag_plugins.ops.metrics import PrometheusMetrics  # noqa: E402
from tests.processes import default_sigint  # noqa: E402

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau".split()


@pytest.fixture
def kb(tmp_path):
    with KnowledgeBase.open(tmp_path / "kb") as kb:
        kb.upsert(Document(f"d{n}", f"{w} {WORDS[(n + 1) % len(WORDS)]} notes") for n, w in enumerate(WORDS))
        kb.commit()
        yield kb


def scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line and not line.startswith("#")}


def test_searches_are_counted_timed_and_the_collapse_gauges_scraped(kb):
    registry = prometheus_client.CollectorRegistry()
    monitor = CollapseMonitor.for_knowledge_base(kb)
    metrics = PrometheusMetrics(registry, collapse=monitor)
    bm25 = ObservedRetriever(kb.bm25_retriever(), metrics, monitor)
    for word in WORDS:
        bm25.retrieve(word, k=2)
    queries = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
    estimator = ConfidenceEstimator().fit([kb.bm25_retriever().retrieve(q, k=2) for q in queries], [1, 0] * 5)
    traced_search(kb.bm25_retriever(), "alpha", k=2, policy=AbstentionPolicy(estimator, 1.01), observers=[metrics])
    server = metrics.serve(0)
    try:
        seen = scrape(server.server_port)
    finally:
        server.shutdown()
    assert seen['rag_plugins_searches_total{retriever="bm25",status="none"}'] == len(WORDS)
    assert seen['rag_plugins_searches_total{retriever="bm25",status="low_confidence"}'] == 1
    assert seen['rag_plugins_abstentions_total{retriever="bm25"}'] == 1
    assert seen['rag_plugins_search_seconds_count{retriever="bm25",stage="total"}'] == len(WORDS) + 1
    assert seen['rag_plugins_search_hits_sum{retriever="bm25"}'] == 2 * len(WORDS)
    assert seen['rag_plugins_search_confidence_count{retriever="bm25"}'] == 1
    (gauges,) = monitor.gauges()
    assert seen['rag_plugins_collapse_unique_document_rate{filter="",retriever="bm25"}'] == pytest.approx(
        gauges.unique_document_rate)
    assert seen['rag_plugins_collapse_collapsed{filter="",retriever="bm25"}'] == 0.0


def test_without_prometheus_client_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "rag-plugins\[metrics\]"'):
        PrometheusMetrics()


def test_serve_mcp_serves_metrics_for_the_tools_searches(kb):
    kb.close()
    env_args = [sys.executable, "-m", "rag_plugins.cli", "serve-mcp", str(kb.path), "--metrics-port", "0"]
    server = subprocess.Popen(env_args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, preexec_fn=default_sigint)
    try:
        line = server.stderr.readline()
        assert line.startswith("rag-plugins: metrics at http://127.0.0.1:")
        port = int(line.rsplit(":", 1)[1].split("/")[0])
        calls = [{"id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                                                              "clientInfo": {"name": "test", "version": "0"}}},
                 {"method": "notifications/initialized"},
                 {"id": 2, "method": "tools/call", "params": {"name": "search_bm25", "arguments": {"query": "alpha"}}}]
        for call in calls:
            server.stdin.write(json.dumps({"jsonrpc": "2.0", **call}) + "\n")
            server.stdin.flush()
            if "id" in call:
                assert json.loads(server.stdout.readline())["id"] == call["id"]
        seen = scrape(port)
        assert seen['rag_plugins_searches_total{retriever="bm25",status="none"}'] == 1
    finally:
        server.kill()
        server.stdin.close()
        server.wait(timeout=10)


def test_a_busy_metrics_port_is_a_clear_error(kb, capsys):
    registry = prometheus_client.CollectorRegistry()
    busy = PrometheusMetrics(registry).serve(0)
    try:
        code = main(["serve-mcp", str(kb.path), "--metrics-port", str(busy.server_port)])
    finally:
        busy.shutdown()
    assert code == 2 and "pick another --metrics-port" in capsys.readouterr().err


def test_staleness_regression_and_drift_gauges_from_the_base(tmp_path, capsys):
    import os
    import time as clock

    from rag_plugins.ops import GoldenQuery, write_golden

    folder = tmp_path / "docs"
    folder.mkdir()
    for name, age_days in (("old.md", 400), ("new.md", 3)):
        (folder / name).write_text(f"# {name}\n\nNotes about {name[:-3]} things.")
        when = clock.time() - age_days * 86400
        os.utime(folder / name, (when, when))
    with KnowledgeBase.open(tmp_path / "kb") as base:
        base.sync([folder])
        write_golden([GoldenQuery("q", "old things", ((folder / "old.md").as_posix(),))], base.path / "golden.jsonl")
    assert main(["regress", str(tmp_path / "kb"), "--retriever", "bm25"]) == 0  # records the baseline
    assert main(["regress", str(tmp_path / "kb"), "--retriever", "bm25"]) == 0  # a verdict
    (tmp_path / "kb" / "reindex_drift.json").write_text(json.dumps({"k": 10, "overlap@10": 0.4, "rank_correlation": 0.1,
                                                                     "top1_changed": 0.5}))
    with KnowledgeBase.open(tmp_path / "kb", read_only=True) as kb:
        metrics = PrometheusMetrics(prometheus_client.CollectorRegistry(), knowledge_base=kb, unchecked_days=1e-9)
        ObservedRetriever(kb.bm25_retriever(), metrics).retrieve("notes things", k=2)
        value = metrics.registry.get_sample_value
        assert value("rag_plugins_unchecked_sources") == 2.0  # both checked more than a nanosecond-day ago
        assert value("rag_plugins_regression_passed") == 1.0 and value("rag_plugins_regression_recall") == 1.0
        assert value("rag_plugins_drift_overlap") == 0.4 and value("rag_plugins_drift_top1_changed") == 0.5
        ages = {"retriever": "bm25"}
        assert value("rag_plugins_retrieved_age_seconds_count", ages) == 2.0
        assert value("rag_plugins_retrieved_age_seconds_bucket", {**ages, "le": str(7 * 86400.0)}) == 1.0  # new.md
