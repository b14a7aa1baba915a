"""The collapse monitor: a retriever stuck on three documents is flagged at the 20th
distinct query, healthy traffic through the real hybrid retriever never is, and a stream
that recovers says so once."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from rag_plugins import KnowledgeBase
from rag_plugins.errors import InvalidInputError
from rag_plugins.loaders import load_documents
from rag_plugins.ops import CollapseMonitor, CollapseThresholds, RetrievalLog, read_retrieval_log
from rag_plugins.retrievers.base import BaseRetriever
from rag_plugins.tracing import ObservedRetriever

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"


class StuckRetriever(BaseRetriever):
    """Returns the same three documents whatever the query: collapse, injected."""

    name = "stuck"

    def __init__(self, kb: KnowledgeBase, documents: list[str]):
        self.hits = [hit for doc in documents for hit in kb.bm25_retriever().retrieve(kb.get(doc).text[:200], k=1)]

    def _retrieve(self, query, k, filters):
        return self.hits[:k]


@pytest.fixture(scope="module")
def demo_kb(tmp_path_factory, embedder):
    """The bundled demo corpus: 300 HotpotQA paragraphs, with vectors."""
    with KnowledgeBase.open(tmp_path_factory.mktemp("demo"), embedder=embedder) as kb:
        kb.upsert(load_documents([DATA / "hotpotqa_paragraphs.jsonl"]))
        kb.commit()
        yield kb


@pytest.fixture(scope="module")
def healthy_queries():
    """The demo's 30 questions and every paragraph's title: 330 different queries."""
    questions = [json.loads(line)["text"] for line in (DATA / "hotpotqa_questions.jsonl").read_text().splitlines()]
    titles = [json.loads(line)["title"] for line in (DATA / "hotpotqa_paragraphs.jsonl").read_text().splitlines()]
    return questions + list(dict.fromkeys(titles))


def test_three_documents_for_every_query_are_flagged_at_the_20th_distinct_query(demo_kb, caplog):
    alerts = []
    monitor = CollapseMonitor.for_knowledge_base(demo_kb, on_alert=alerts.append)
    stuck = ObservedRetriever(StuckRetriever(demo_kb, demo_kb.document_ids()[:3]), monitor)
    with caplog.at_level(logging.WARNING, logger="rag_plugins.ops"):
        for n in range(19):
            stuck.retrieve(f"question number {n}", k=3)
            stuck.retrieve(f"question number {n}", k=3)  # asked twice, counted once
        assert alerts == [] and monitor.collapsed() == []
        stuck.retrieve("question number 19", k=3)
    (alert,) = alerts
    assert alert.state == "collapsed" and alert.gauges.searches == 20
    assert set(alert.breached) == {"unique_document_rate", "entropy", "top_document_share", "same_results_rate"}
    assert alert.gauges.unique_document_rate == pytest.approx(3 / 60)  # 3 documents in 20 x 3 slots
    assert alert.gauges.top_document_share == 1.0 and alert.gauges.same_results_rate == 1.0
    assert alert.gauges.top_document in demo_kb.document_ids()[:3]
    (record,) = [r for r in caplog.records if r.name == "rag_plugins.ops"]
    assert "retrieval collapse on stuck" in record.getMessage() and record.rag_plugins["state"] == "collapsed"
    stuck.retrieve("question number 20", k=3)
    assert len(alerts) == 1 and [g.retriever for g in monitor.collapsed()] == ["stuck"]


def test_healthy_traffic_through_the_real_hybrid_retriever_never_fires(demo_kb, healthy_queries):
    monitor = CollapseMonitor()
    hybrid = ObservedRetriever(demo_kb.hybrid_retriever(), monitor)
    for query in healthy_queries:
        hybrid.retrieve(query, k=10)
    (gauges,) = monitor.gauges()
    assert monitor.alerts.maxlen and list(monitor.alerts) == []
    assert gauges.searches == 200  # the window
    thresholds = CollapseThresholds()
    assert gauges.unique_document_rate > 2 * thresholds.unique_document_rate
    assert gauges.same_results_rate < thresholds.same_results_rate / 2


def test_a_collapsed_stream_recovers_once_and_other_streams_are_apart(demo_kb, healthy_queries, tmp_path):
    small = dict(window=40, thresholds=CollapseThresholds(min_searches=10))
    monitor = CollapseMonitor.for_knowledge_base(demo_kb, **small)
    log = RetrievalLog(tmp_path / "log.sqlite", store_queries=True)
    retriever = StuckRetriever(demo_kb, demo_kb.document_ids()[:3])
    stuck = ObservedRetriever(retriever, monitor, log)
    bm25 = ObservedRetriever(demo_kb.bm25_retriever(), monitor, log)
    for query in healthy_queries[:10]:
        stuck.retrieve(query, k=3)
        bm25.retrieve(query, k=3)
    assert [(a.state, a.gauges.retriever) for a in monitor.alerts] == [("collapsed", "stuck")]
    fixed = demo_kb.bm25_retriever()  # the fix: the same stream now searches for real
    retriever._retrieve = lambda query, k, filters: fixed.retrieve(query, k=k)
    for query in healthy_queries[10:90]:
        stuck.retrieve(query, k=3)
    assert [(a.state, a.gauges.retriever) for a in monitor.alerts] == [("collapsed", "stuck"),
                                                                       ("recovered", "stuck")]
    log.close()
    # the same story read back from the retrieval log, replayed offline
    replayed = CollapseMonitor(documents=len(demo_kb), **small)
    alerts = replayed.replay(read_retrieval_log(tmp_path / "log.sqlite"))
    assert [(a.state, a.gauges.retriever, a.gauges.searches) for a in alerts] == [
        (a.state, a.gauges.retriever, a.gauges.searches) for a in monitor.alerts]


def test_a_filter_is_its_own_stream_and_a_tiny_one_is_not_judged(demo_kb, healthy_queries):
    """A tenant of five documents searched for three returns the same few whatever is
    asked; that is its size, not collapse."""
    monitor = CollapseMonitor.for_knowledge_base(demo_kb)
    dense = ObservedRetriever(demo_kb.dense_retriever(), monitor)
    tenant = {"document_id": {"$in": demo_kb.document_ids()[:5]}}
    for n, query in enumerate(healthy_queries[:80]):
        dense.retrieve(query, k=3, filters=tenant if n % 2 else None)
    streams = {bool(g.filters_hash): g for g in monitor.gauges()}
    assert {f: g.searches for f, g in streams.items()} == {False: 40, True: 40}
    assert streams[True].same_results_rate > 0.5 and list(monitor.alerts) == []


def test_without_the_base_size_a_stuck_retriever_is_judged_once_it_has_reached_enough(demo_kb, healthy_queries):
    monitor = CollapseMonitor()
    retriever = StuckRetriever(demo_kb, demo_kb.document_ids()[:3])
    stuck = ObservedRetriever(retriever, monitor)
    for query in healthy_queries[:30]:
        stuck.retrieve(query, k=3)
    assert list(monitor.alerts) == []  # three documents seen: nothing to compare with
    bm25 = demo_kb.bm25_retriever()
    retriever._retrieve = lambda query, k, filters: bm25.retrieve(query, k=k)
    for query in healthy_queries[30:40]:  # it worked for a while ...
        stuck.retrieve(query, k=3)
    retriever._retrieve = lambda query, k, filters: retriever.hits[:k]
    for query in healthy_queries[40:80]:  # ... then broke again
        stuck.retrieve(query, k=3)
    assert [a.state for a in monitor.alerts] == ["collapsed"]


def test_old_searches_leave_the_window_by_time():
    from rag_plugins.ops.retrieval_log import LoggedHit, LoggedSearch

    def logged(n, at):
        return LoggedSearch(n, at, f"q{n}", None, "r", None, 1, (LoggedHit("a#0", "a", 1.0),), None, None,
                            False, {}, (1,), "", 0)

    monitor = CollapseMonitor(window_seconds=60, documents=1000)
    assert monitor.replay(logged(n, 1000.0 + 100 * n) for n in range(50)) == []  # never 20 within a minute
    assert monitor.gauges()[0].searches == 1
    assert [a.gauges.searches for a in monitor.replay(logged(100 + n, 9000.0 + n) for n in range(25))] == [20]


def test_bad_monitor_settings_are_typed_errors():
    with pytest.raises(InvalidInputError, match="window"):
        CollapseMonitor(window=1)
    with pytest.raises(InvalidInputError, match="never judge"):
        CollapseMonitor(window=10)
