"""benchmarks/plots.py draws every figure from the committed results, and a missing, incomplete
or malformed results file skips its figure with one line on stderr instead of a traceback.

Reads only ``benchmarks/results/*.json`` by name (never ``benchmarks/results/work``) and files
it writes under ``tmp_path``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")
from matplotlib.image import imread  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "plots.py"
RESULTS = REPO / "benchmarks" / "results"
FIGURES = {
    "bm25_speed.png": "bm25_speed.json",
    "encoders.png": "encoders.json",
    "framework_hybrid.png": "framework_hybrid.json",
    "confident_merge.png": "confident_merge.json",
    "scifact_rerank_risk_coverage.png": "scifact_rerank.json",
    "mixed_router_confusion.png": "mixed_router.json",
    "hotpotqa_iterative.png": "hotpotqa_iterative.json",
    "scifact_retrievers.png": "scifact.json",
    "hotpotqa_graph.png": "hotpotqa_graph.json",
    "structure_recall.png": "structure_recall.json",
}


def run_plots(results: Path, output: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, str(SCRIPT), "--results", str(results), "--output", str(output)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def non_white_pixels(path: Path) -> int:
    image = imread(path)
    return int((image[..., :3] < 0.95).any(axis=-1).sum())


def test_every_figure_is_drawn_from_the_committed_results(tmp_path):
    missing = [name for name in FIGURES.values() if not (RESULTS / name).is_file()]
    if missing:
        pytest.skip(f"results not committed: {missing}")
    done = run_plots(RESULTS, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    printed = set(done.stdout.split())
    for png in FIGURES:
        path = tmp_path / png
        assert str(path) in printed
        assert non_white_pixels(path) > 500, png


def test_missing_and_incomplete_files_skip_their_figures(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    shutil.copy(RESULTS / "bm25_speed.json", results)
    (results / "framework_hybrid.json").write_text('{"langchain": {"ndcg@10": 0.64}}', encoding="utf-8")
    (results / "scifact.json").write_text("[1, 2, 3]", encoding="utf-8")
    done = run_plots(results, tmp_path / "plots")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout.split() == [str(tmp_path / "plots" / "bm25_speed.png")]
    lines = done.stderr.splitlines()
    assert len(lines) == len(FIGURES) - 1
    assert "plots.py: skipped framework_hybrid.png: framework_hybrid.json has no key 'p50_ms'" in lines
    assert any(line.startswith("plots.py: skipped scifact_retrievers.png: scifact.json does not have")
               for line in lines)
    assert any(line.startswith("plots.py: skipped encoders.png:") and line.endswith("encoders.json not found")
               for line in lines)


def test_malformed_json_is_reported_and_exits_1(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    shutil.copy(RESULTS / "bm25_speed.json", results)
    (results / "encoders.json").write_text('{"query_latency": ', encoding="utf-8")
    done = run_plots(results, tmp_path / "plots")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "plots.py: skipped encoders.png: encoders.json is not valid JSON (line 1" in done.stderr
    assert (tmp_path / "plots" / "bm25_speed.png").is_file()
