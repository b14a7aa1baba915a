"""Staleness: every sync records when it looked at each source, the report lists what
nobody re-checked within T, and the age of retrieved text is the age it had when it was
retrieved (from the chunk's own stamp, not the document as it is now)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from rag_plugins import Document, KnowledgeBase
from rag_plugins.cli import main
from rag_plugins.errors import InvalidDocumentError
from rag_plugins.ops.retrieval_log import RetrievalLog, read_retrieval_log
from rag_plugins.ops.staleness import DAY, staleness
from rag_plugins.tracing import ObservedRetriever

YEAR = 365 * DAY


def write(folder: Path, name: str, text: str, age_days: float = 0.0) -> Path:
    path = folder / name
    path.write_text(text)
    when = time.time() - age_days * DAY
    os.utime(path, (when, when))
    return path


@pytest.fixture
def synced(tmp_path):
    """Two folders synced separately: ``docs`` (an old policy, a new guide) and ``archive``."""
    docs, archive = tmp_path / "docs", tmp_path / "archive"
    docs.mkdir()
    archive.mkdir()
    write(docs, "policy.md", "# Policy\n\nRefunds are accepted within 30 days of purchase.", age_days=400)
    write(docs, "guide.md", "# Guide\n\nInstall the widget, then restart the service.", age_days=2)
    write(archive, "memo.md", "# Memo\n\nThe office moves to the third floor.", age_days=800)
    kb = KnowledgeBase.open(tmp_path / "kb", show_progress=False)
    kb.sync([docs])
    kb.sync([archive])
    yield kb, docs, archive
    kb.close()


def test_a_sync_records_when_it_checked_each_source_changed_or_not(synced):
    kb, docs, archive = synced
    first = kb.store.source_checks()
    assert set(first) == {(docs / "policy.md").as_posix(), (docs / "guide.md").as_posix(),
                          (archive / "memo.md").as_posix()}
    time.sleep(0.05)
    report = kb.sync([docs])  # nothing changed: a stat per file, and the check is recorded
    assert report.generation == 2 and len(report.unchanged) == 2
    again = kb.store.source_checks()
    assert again[(docs / "policy.md").as_posix()] > first[(docs / "policy.md").as_posix()]
    assert again[(archive / "memo.md").as_posix()] == first[(archive / "memo.md").as_posix()]  # not walked
    info = kb.document_info((docs / "policy.md").as_posix())
    assert info["last_checked"] == again[(docs / "policy.md").as_posix()] and info["version"] == 1


def test_the_report_lists_what_no_sync_rechecked_within_t(synced):
    kb, docs, archive = synced
    time.sleep(0.05)
    kb.sync([docs])
    checked_docs = kb.store.source_checks()[(docs / "guide.md").as_posix()]
    memo_checked = kb.store.source_checks()[(archive / "memo.md").as_posix()]
    kb.upsert([Document("note", "A note added by hand.")])
    kb.commit()
    # a day later than the archive's check, but before the docs' check turns a day old
    now = memo_checked + DAY + (checked_docs - memo_checked) / 2
    report = staleness(kb, unchecked_days=1, now=now)
    assert [s.source for s in report.unchecked_sources()] == [(archive / "memo.md").as_posix()]
    assert [d.id for d in report.unchecked_documents()] == [(archive / "memo.md").as_posix()]
    later = staleness(kb, unchecked_days=1, now=time.time() + 2 * DAY)
    assert {d.id for d in later.unchecked_documents()} == {*kb.document_ids()}  # "note": last written
    ages = {d.id: d.age(time.time()) / DAY for d in report.documents}
    assert ages[(docs / "policy.md").as_posix()] == pytest.approx(400, abs=0.1)  # the file's mtime, not the sync
    assert ages["note"] < 0.1


def test_retrieved_ages_are_measured_at_search_time_from_the_chunk(synced, tmp_path):
    kb, docs, _ = synced
    log = RetrievalLog(kb.path, store_queries=True)
    bm25 = ObservedRetriever(kb.bm25_retriever(), log)
    for query in ("refunds purchase", "office floor", "install widget restart", "refunds"):
        assert bm25.retrieve(query, k=1)
    log.close()
    write(docs, "policy.md", "# Policy\n\nRefunds are accepted within 14 days of purchase.")  # changed today
    kb.sync([docs])
    searches = read_retrieval_log(kb.path)
    report = staleness(kb, searches)
    ages = sorted(round(a / DAY) for a in report.retrieved_ages)
    assert ages == [2, 400, 400, 800]  # the policy hits are still 400 days old: what was retrieved then
    assert report.retrieved_older_than(180) == 0.75
    assert report.age_bands() == {"<30d": 0.25, "30-90d": 0.0, "90-180d": 0.0, "180-365d": 0.0, ">365d": 0.75}
    hit = kb.bm25_retriever().retrieve("refunds", k=1)[0]
    assert hit.chunk.metadata["document_version"] == 2 and "14 days" in hit.chunk.text


def test_the_staleness_command(synced, capsys):
    kb, docs, archive = synced
    log = RetrievalLog(kb.path)
    ObservedRetriever(kb.bm25_retriever(), log).retrieve("office floor", k=1)
    log.close()
    time.sleep(0.2)  # so that every check is older than the 0.09 s asked for below
    assert main(["ops", "staleness", "--kb", str(kb.path), "--unchecked-days", "0.000001", "--json"]) == 0
    out = capsys.readouterr().out
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["unchecked_sources"] == 3 and summary["retrieved_hits"] == 1
    assert summary["retrieved_older_than_180d"] == 1.0 and f"source {(archive / 'memo.md').as_posix()}" in out
    assert "100% of the 1 hits retrieved in the last 7 days came from documents older than 180 days" in out
    assert main(["ops", "staleness", "--kb", str(kb.path), "--unchecked-days", "0"]) == 2
    assert "must be positive" in capsys.readouterr().err


def test_freshness_keys_are_reserved(tmp_path):
    with KnowledgeBase.open(tmp_path / "kb") as kb:
        with pytest.raises(InvalidDocumentError, match="reserved keys \\['document_version'\\]"):
            kb.upsert([Document("a", "text", {"document_version": 3})])
