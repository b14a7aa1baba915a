"""The retrieval log: what a search leaves behind, that it never waits on the disk, that it
stays bounded, and that several writer processes and a kill -9 leave it whole."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from rag_plugins import Document, KnowledgeBase
from rag_plugins.confidence import AbstentionPolicy, ConfidenceEstimator
from rag_plugins.errors import InvalidInputError, RetrievalLogError
from rag_plugins.ops import RetrievalLog, query_fingerprint, read_retrieval_log
from rag_plugins.routing import RoutedRetriever
from rag_plugins.tools import Toolkit
from rag_plugins.tracing import ObservedRetriever, traced_search

FRUIT = [Document("pear", "Pears are sweet and grow on trees.", {"tenant": "A"}),
         Document("bolt", "Bolts are made of steel; error E4012 means a stripped thread.", {"tenant": "B"}),
         Document("plum", "Plums are stone fruit, sweet when ripe.", {"tenant": "A"})]


@pytest.fixture
def kb(tmp_path):
    with KnowledgeBase.open(tmp_path / "kb") as kb:
        kb.upsert(FRUIT)
        kb.commit()
        yield kb


def test_a_search_is_logged_with_its_ids_scores_route_timings_and_generation(kb):
    with RetrievalLog(kb.path) as log:
        routed = ObservedRetriever(RoutedRetriever(kb), log)
        search = traced_search(routed, "what does error E4012 mean", k=2, filters={"tenant": "B"})
        assert log.flush()
        (row,) = log.searches()
    assert log.path == kb.path / "retrieval_log.sqlite"
    assert row.query is None and row.query_hash == query_fingerprint("What does ERROR E4012 mean")
    assert row.retriever == search.retriever and row.k == 2
    assert [(h.chunk_id, h.document_id) for h in row.hits] == [(h.chunk.id, h.document_id) for h in search.hits]
    assert [h.score for h in row.hits] == pytest.approx([h.score for h in search.hits])
    assert row.route["routes"] == search.route["routes"] and "bm25" in row.route["routes"]
    assert set(row.timings) >= {"routing", "retrieval", "total"} and row.timings["total"] > 0
    assert row.generations == (kb.generation,)
    assert row.filters_hash and row.pid == os.getpid() and abs(row.at - time.time()) < 60


def test_query_text_is_kept_only_when_asked(kb):
    with RetrievalLog(kb.path, store_queries=True) as log:
        ObservedRetriever(kb.bm25_retriever(), log).retrieve("sweet pears", k=1)
        log.flush()
        assert [s.query for s in log.searches()] == ["sweet pears"]


def test_confidence_status_and_abstention_are_logged(kb):
    bm25 = kb.bm25_retriever()
    queries = ["sweet pears", "steel bolts", "stone fruit", "error E4012", "ripe plums", "trees",
               "thread", "sweet", "made of steel", "grow"]
    estimator = ConfidenceEstimator().fit([bm25.retrieve(q, k=2) for q in queries], [1, 0] * 5)
    with RetrievalLog(kb.path) as log:
        answered = traced_search(bm25, "sweet pears", k=1, policy=AbstentionPolicy(estimator, 0.0), observers=[log])
        refused = traced_search(bm25, "sweet pears", k=1, policy=AbstentionPolicy(estimator, 1.01), observers=[log])
        log.flush()
        rows = log.searches()
    assert [(r.abstained, r.status, len(r.hits)) for r in rows] == [
        (False, answered.confidence["status"], 1), (True, "low_confidence", 0)]
    assert rows[1].confidence == pytest.approx(refused.confidence["confidence"])


def test_every_tool_of_a_toolkit_logs_through_its_observers(kb):
    with RetrievalLog(kb.path) as log:
        tools = Toolkit.from_knowledge_base(kb, observers=[log])
        tools.call("search", {"query": "E4012"})
        tools.call("search", {"query": "sweet fruit", "route": "bm25"})
        tools.call("search_bm25", {"query": "steel bolts"})
        log.flush()
        rows = log.searches()
    assert len(rows) == 3
    assert rows[0].route["routes"] == {"bm25": 1.0} and rows[0].retriever != "bm25"
    assert [r.retriever for r in rows[1:]] == ["bm25", "bm25"]


def test_a_search_never_waits_for_the_log(kb, tmp_path):
    """A writer elsewhere holds the database locked: searches go on, the queue fills, what
    does not fit is counted as dropped, and the rest is written once the lock goes."""
    log = RetrievalLog(tmp_path / "log.sqlite", queue_size=3)
    blocker = sqlite3.connect(log.path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    observed = ObservedRetriever(kb.bm25_retriever(), log)
    try:
        for n in range(10):
            assert observed.retrieve(f"sweet pears {n}", k=1)[0].document_id == "pear"
        assert log.dropped >= 10 - 3 - 3  # the queue holds 3, the writer at most a batch of 3 it cannot write yet
        assert not log.flush(timeout=0.2)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert log.flush()
    log.close()
    assert len(log) == log.written == 10 - log.dropped


def test_the_log_keeps_only_the_newest_rows(kb, tmp_path):
    with RetrievalLog(tmp_path / "log.sqlite", max_rows=25, store_queries=True) as log:
        observed = ObservedRetriever(kb.bm25_retriever(), log)
        for n in range(60):
            observed.retrieve(f"pears {n}", k=1)
            if n % 7 == 0:
                log.flush()
        log.flush()
        queries = [s.query for s in log.searches()]
    assert queries == [f"pears {n}" for n in range(35, 60)]


def test_selecting_by_time_retriever_and_limit(kb, tmp_path):
    with RetrievalLog(tmp_path / "log.sqlite", store_queries=True) as log:
        bm25 = ObservedRetriever(kb.bm25_retriever(), log)
        bm25.retrieve("pears", k=1)
        log.flush()
        middle = time.time()
        bm25.retrieve("plums", k=1)
        traced_search(kb.bm25_retriever(name="other"), "bolts", k=1, observers=[log])
        log.flush()
        assert [s.query for s in log.searches(since=middle)] == ["plums", "bolts"]
        assert [s.query for s in log.searches(until=middle)] == ["pears"]
        assert [s.query for s in log.searches(retriever="other")] == ["bolts"]
        assert [s.query for s in log.searches(limit=2)] == ["plums", "bolts"]
    assert [s.query for s in read_retrieval_log(tmp_path / "log.sqlite", limit=1)] == ["bolts"]


def test_bad_settings_and_paths_are_typed_errors(tmp_path):
    with pytest.raises(InvalidInputError, match="max_rows"):
        RetrievalLog(tmp_path / "a.sqlite", max_rows=0)
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(RetrievalLogError, match="writable path"):
        RetrievalLog(tmp_path / "file" / "log.sqlite")
    with pytest.raises(RetrievalLogError, match="no retrieval log"):
        read_retrieval_log(tmp_path)
    RetrievalLog(tmp_path / "b.sqlite").close()
    with sqlite3.connect(tmp_path / "b.sqlite") as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(RetrievalLogError, match="format version 99"):
        RetrievalLog(tmp_path / "b.sqlite")


WRITER = textwrap.dedent("""
    import sys, time
    from rag_plugins import KnowledgeBase
    from rag_plugins.ops import RetrievalLog
    from rag_plugins.tracing import ObservedRetriever

    kb = KnowledgeBase.open(sys.argv[1], read_only=True)
    log = RetrievalLog(sys.argv[2], store_queries=True)
    observed = ObservedRetriever(kb.bm25_retriever(), log)
    count = int(sys.argv[3])
    n = 0
    while count < 0 or n < count:
        observed.retrieve(f"{sys.argv[4]} sweet pears {n}", k=2)
        n += 1
        if n % 50 == 0:
            log.flush()
    log.close()
""")


def _writer(kb_path, log_path, count, name):
    return subprocess.Popen([sys.executable, "-c", WRITER, str(kb_path), str(log_path), str(count), name],
                            stderr=subprocess.PIPE, text=True)


def test_several_writer_processes_share_one_log(kb, tmp_path):
    log_path = tmp_path / "log.sqlite"
    writers = [_writer(kb.path, log_path, 150, f"w{n}") for n in range(3)]
    try:
        for writer in writers:
            assert writer.wait(timeout=120) == 0, writer.stderr.read()
    finally:
        for writer in writers:
            writer.kill()
    rows = read_retrieval_log(log_path)
    assert len(rows) == 450 and len({r.pid for r in rows}) == 3
    for name in ("w0", "w1", "w2"):  # each process's rows whole and in its own order
        mine = [r.query for r in rows if r.query.startswith(name)]
        assert mine == [f"{name} sweet pears {n}" for n in range(150)]


def test_a_writer_killed_mid_write_leaves_the_log_readable_and_writable(kb, tmp_path):
    log_path = tmp_path / "log.sqlite"
    writer = _writer(kb.path, log_path, -1, "doomed")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not log_path.exists() or len(read_retrieval_log(log_path)) < 200):
            time.sleep(0.05)
    finally:  # the writer never stops by itself: kill it even when waiting failed
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
    with sqlite3.connect(log_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    survived = read_retrieval_log(log_path)
    assert len(survived) >= 200
    assert [r.query for r in survived] == [f"doomed sweet pears {n}" for n in range(len(survived))]
    with RetrievalLog(log_path, store_queries=True) as log:
        ObservedRetriever(kb.bm25_retriever(), log).retrieve("after the crash", k=1)
        log.flush()
        assert [s.query for s in log.searches(limit=1)] == ["after the crash"]


def test_a_log_whose_file_cannot_be_written_drops_and_counts_instead_of_crashing(kb, tmp_path, monkeypatch, caplog):
    import threading

    import rag_plugins.ops.retrieval_log as module

    real = module._connect

    def refused_to_the_writer(path):
        if threading.current_thread().name == "rag-plugins-retrieval-log":
            raise sqlite3.OperationalError("unable to open database file")
        return real(path)

    monkeypatch.setattr(module, "_connect", refused_to_the_writer)
    with caplog.at_level("WARNING", logger="rag_plugins.ops"):
        log = RetrievalLog(tmp_path / "log.sqlite")
        ObservedRetriever(kb.bm25_retriever(), log).retrieve("sweet pears", k=1)
        log.close()
    assert log.dropped == 1 and log.written == 0 and len(log) == 0
    assert any("cannot be opened for writing" in r.getMessage() for r in caplog.records)
