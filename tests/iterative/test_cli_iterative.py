"""``eval`` / ``query --retriever iterative --iterations N``."""

from __future__ import annotations

import json

from rag_plugins.cli import main
from tests.beir_data import write_beir
from tests.iterative.multihop_data import PARAGRAPHS, QUESTION


def test_eval_iterative_finds_the_second_hop_single_shot_misses(tmp_path, minilm_path, capsys):
    root = write_beir(tmp_path / "ds", PARAGRAPHS, {"q1": (QUESTION, ["kiss", "temple"])})
    kb_dir = tmp_path / "kb"

    def evaluate(*args: str) -> dict:
        out = tmp_path / "m.json"
        assert main(["eval", str(root), "--index-dir", str(kb_dir), "--embedding-model", minilm_path, "--k", "3",
                     "--run-file", str(tmp_path / "run"), "--output", str(out), *args]) == 0
        return json.loads(out.read_text())

    iterative = evaluate("--retriever", "iterative", "--base", "bm25", "--iterations", "3", "--keep", "1")
    single = evaluate("--retriever", "bm25")
    assert single["recall_all@3"] == 0.0 and iterative["recall_all@3"] == 1.0
    assert iterative["iterative"] == {"iterations": 3, "base": "bm25", "keep": 1, "generator": "extractive"}

    capsys.readouterr()
    assert main(["query", str(kb_dir), QUESTION, "--retriever", "iterative", "--base", "bm25", "--keep", "1", "--iterations", "3",
                 "--k", "3"]) == 0
    out = capsys.readouterr().out
    assert "kiss#0" in out and "temple#0" in out and "found in round 3" in out

    assert main(["eval", str(root), "--retriever", "iterative", "--iterations", "0", "--index-dir", str(kb_dir),
                 "--run-file", str(tmp_path / "r"), "--output", str(tmp_path / "o")]) == 2
    assert "iterations must be greater than 0" in capsys.readouterr().err
