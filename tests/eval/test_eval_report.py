"""``rag-plugins eval --report``: one page with recall@k curves, per-query wins and losses
against a baseline run, latency, and (with confidences) reliability and risk-coverage,
rendered in a real headless browser."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from rag_plugins.cli import main
from rag_plugins.errors import InvalidInputError
from rag_plugins.eval.report import build_eval_report, read_trec_run
from tests.beir_data import write_beir
from tests.test_cli import CORPUS, QUERIES

pytest.importorskip("matplotlib")


def test_the_report_compares_with_a_baseline_run(tmp_path, minilm_path, capsys):
    data = write_beir(tmp_path / "tiny", CORPUS, QUERIES)
    common = ["eval", str(data), "--embedding-model", minilm_path, "--k", "5"]
    assert main([*common, "--retriever", "bm25", "--index-dir", str(tmp_path / "bm25"), "--run-file", str(tmp_path / "bm25.trec"),
                 "--output", str(tmp_path / "bm25.json")]) == 0
    report = tmp_path / "report.html"
    assert main([*common, "--retriever", "dense", "--index-dir", str(tmp_path / "dense"), "--run-file", str(tmp_path / "dense.trec"),
                 "--output", str(tmp_path / "dense.json"), "--report", str(report),
                 "--baseline-run", str(tmp_path / "bm25.trec")]) == 0
    page = report.read_text()
    for heading in ("Summary", "Recall@k", "Per-query wins and losses against bm25", "Latency"):
        assert f"<h2>{heading}</h2>" in page
    assert page.count("data:image/png;base64,") == 3 and "queries better" in page
    assert read_trec_run(tmp_path / "bm25.trec")["q1"][0] == "d1"
    assert main([*common, "--retriever", "bm25", "--index-dir", str(tmp_path / "bm25"), "--run-file", str(tmp_path / "x"), "--output", str(tmp_path / "y"),
                 "--baseline-run", str(tmp_path / "bm25.trec")]) == 2
    assert "add --report" in capsys.readouterr().err
    if shutil.which("chromium"):
        shot = tmp_path / "report.png"
        browser = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'p'}"]
        dom = subprocess.run([*browser, "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=120)
        assert dom.stdout.count("<img") == 3
        subprocess.run([*browser, f"--screenshot={shot}", "--window-size=1000,1800", report.as_uri()],
                       capture_output=True, timeout=120, check=True)
        import numpy as np
        from PIL import Image

        pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int16)
        assert int((np.abs(pixels - np.array([31, 119, 180])).max(axis=2) < 25).sum()) > 2_000  # plots drawn


def test_confidence_and_routing_sections():
    metrics = {"config": {"retriever": "routed", "dataset": "d", "split": "test"}, "ndcg@10": 0.5, "n_queries": 4,
               "timings": {"p50_ms": 1.0, "p95_ms": 2.0}, "routing": {"decisions": {"bm25": 3, "dense": 1}}}
    run = {"q1": ["a"], "q2": ["b"], "q3": ["c"], "q4": ["x"]}
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"z": 1}, "q4": {"x": 1}}
    page = build_eval_report(metrics, run, {}, qrels, [0.001] * 4, confidence=[0.9, 0.8, 0.2, 0.6], labels=[1, 1, 0, 1])
    assert "<h2>Router decisions</h2>" in page and "<h2>Confidence</h2>" in page
    assert page.count("data:image/png;base64,") == 4


def test_a_bad_run_file_is_a_clear_error(tmp_path):
    (tmp_path / "bad.trec").write_text("q1 Q0 d1 first 1.0 tag\n")
    with pytest.raises(InvalidInputError, match="bad.trec:1 is not a TREC run line"):
        read_trec_run(tmp_path / "bad.trec")


def test_a_routed_report_draws_the_router_against_the_best_route(tmp_path, minilm_path):
    corpus = [*CORPUS, ("d6", "Firmware", "Release XK-42 fixes the bootloader checksum.")]
    queries = {**QUERIES, "q4": ("XK-42", ["d6"]), "q5": ("insect spread illness", ["d3"])}
    data = write_beir(tmp_path / "tiny", corpus, queries)
    report, metrics_file = tmp_path / "report.html", tmp_path / "routed.json"
    assert main(["eval", str(data), "--embedding-model", minilm_path, "--k", "5", "--retriever", "routed",
                 "--index-dir", str(tmp_path / "kb"), "--run-file", str(tmp_path / "routed.trec"),
                 "--output", str(metrics_file), "--report", str(report)]) == 0
    routing = json.loads(metrics_file.read_text())["routing"]
    confusion = routing["confusion_vs_oracle"]
    assert confusion["queries"] == len(queries) == sum(routing["decisions"].values())
    assert confusion["informative"] + confusion["ties"] == confusion["queries"] and confusion["informative"] >= 1
    assert sum(n for row in confusion["matrix"].values() for n in row.values()) == confusion["informative"]
    diagonal = sum(confusion["matrix"][r][r] for r in confusion["routes"])
    assert confusion["picked_a_best_route"] == diagonal / confusion["informative"]
    assert confusion["oracle_ndcg"] >= confusion["oracle_ndcg"] - confusion["mean_ndcg_given_up"] >= 0
    page = report.read_text()
    assert "<h2>Router against the best route</h2>" in page and page.count("data:image/png;base64,") == 4
