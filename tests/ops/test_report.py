"""``rag-plugins ops report``: one HTML page from a real base, its retrieval log and a
regression run, rendered by a real headless browser where one is installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time

import pytest

from rag_plugins import KnowledgeBase
from rag_plugins.cli import main
from rag_plugins.confidence import AbstentionPolicy, ConfidenceEstimator
from rag_plugins.ops import GoldenQuery, RetrievalLog, write_golden
from rag_plugins.tracing import ObservedRetriever, traced_search

pytest.importorskip("matplotlib")
TOPICS = ["pears", "bolts", "rivers", "violins", "comets", "glaciers", "lanterns", "orchids", "tides", "kilns"]


@pytest.fixture
def operated_kb(tmp_path):
    """A base synced from files, half of them last changed 400 days ago, with a week of
    logged searches and one regression run."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for n, topic in enumerate(TOPICS):
        page = docs / f"{topic}.md"
        page.write_text(f"# {topic.title()}\n\nNotes on {topic}: how {topic} are made, kept and used.\n")
        if n % 2:
            old = time.time() - 400 * 86400
            os.utime(page, (old, old))
    kb_dir = tmp_path / "kb"
    with KnowledgeBase.open(kb_dir) as kb:
        kb.sync([docs])
    with KnowledgeBase.open(kb_dir, read_only=True) as kb, RetrievalLog(kb_dir, store_queries=True) as log:
        bm25 = ObservedRetriever(kb.bm25_retriever(), log)
        for round_ in range(3):
            for topic in TOPICS:
                bm25.retrieve(f"how are {topic} kept {round_}", k=3)
        hits = [kb.bm25_retriever().retrieve(t, k=2) for t in TOPICS]
        estimator = ConfidenceEstimator().fit(hits, [1, 0] * 5)
        for topic in TOPICS:
            traced_search(kb.bm25_retriever(), topic, k=2, policy=AbstentionPolicy(estimator), observers=[log])
        log.flush()
    write_golden([GoldenQuery(t, f"notes on {t}", (f"{t}.md",)) for t in TOPICS], kb_dir / "golden.jsonl")
    return kb_dir


def test_the_report_shows_collapse_top_documents_confidence_staleness_and_the_regression(operated_kb, tmp_path,
                                                                                        capsys):
    doc_ids = None
    with KnowledgeBase.open(operated_kb, read_only=True) as kb:
        doc_ids = kb.document_ids()
    write_golden([GoldenQuery(d, f"notes on {d.split('/')[-1][:-3]}", (d,)) for d in doc_ids],
                 operated_kb / "golden.jsonl")
    assert main(["regress", str(operated_kb), "--retriever", "bm25"]) == 0  # records the baseline
    assert main(["regress", str(operated_kb), "--retriever", "bm25"]) == 0  # a verdict for the report
    output = tmp_path / "report.html"
    assert main(["ops", "report", "--kb", str(operated_kb), "--output", str(output)]) == 0
    assert "report on 40 searches of the last 7 days" in capsys.readouterr().out
    page = output.read_text()
    assert page.count('<img alt="') == 4 and page.count("data:image/png;base64,") == 4
    for heading in ("Summary", "Retrieval collapse", "Most retrieved documents", "Confidence", "Staleness",
                    "Last regression run"):
        assert f"<h2>{heading}</h2>" in page
    assert "5 of 10 documents (50%) last changed more than 180 days ago." in page
    share = int(re.search(r"(\d+)% of the retrieved hits in this window came from documents older", page).group(1))
    assert 0 < share < 100
    assert "<th>verdict</th><td>PASS</td>" in page and "No collapse alert in this window." in page
    assert "searches in the window</th><td>40 (" in page


def test_a_base_without_a_log_still_gets_a_report(operated_kb, tmp_path):
    (operated_kb / "retrieval_log.sqlite").unlink()
    for extra in operated_kb.glob("retrieval_log.sqlite-*"):
        extra.unlink()
    output = tmp_path / "empty.html"
    assert main(["ops", "report", "--kb", str(operated_kb), "--output", str(output)]) == 0
    page = output.read_text()
    assert "none logged (enable a retrieval log" in page and "None recorded: run" in page
    assert page.count("<img") == 1  # the staleness histogram: documents exist even without searches


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no headless chromium (apt-get install chromium)")
def test_the_report_renders_in_a_headless_browser(operated_kb, tmp_path):
    output = tmp_path / "report.html"
    assert main(["ops", "report", "--kb", str(operated_kb), "--output", str(output)]) == 0
    shot = tmp_path / "report.png"
    browser = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*browser, "--dump-dom", output.as_uri()], capture_output=True, text=True, timeout=120)
    assert "<h2>Staleness</h2>" in dom.stdout and dom.stdout.count("<img") == 4
    subprocess.run([*browser, f"--screenshot={shot}", "--window-size=1000,2600", output.as_uri()],
                   capture_output=True, timeout=120, check=True)
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int16)
    plotted = int((np.abs(pixels - np.array([31, 119, 180])).max(axis=2) < 25).sum())
    assert plotted > 5_000  # matplotlib's blue: the plots were decoded and drawn, not broken images
