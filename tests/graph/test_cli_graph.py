"""``--retriever graph`` and ``graph+hybrid`` from the command line."""

import json

import pytest

from rag_plugins.cli import main
from tests.beir_data import write_beir

CORPUS = [
    ("film", "Kiss and Tell (1945 film)", "Kiss and Tell is a 1945 film starring Shirley Temple as Corliss Archer."),
    ("st", "Shirley Temple", "Shirley Temple later served as Chief of Protocol of the United States."),
    ("pear", "Pear", "The pear is a sweet fruit grown in temperate regions."),
    ("apple", "Apple", "The apple tree is cultivated worldwide for its sweet fruit."),
]
QUERIES = {"q1": ("Which office did the star of Kiss and Tell hold?", ["film", "st"])}


@pytest.fixture
def beir_dir(tmp_path):
    return write_beir(tmp_path / "hop", CORPUS, QUERIES, split="dev")


@pytest.mark.parametrize("retriever", ["graph", "graph+hybrid"])
def test_eval_with_graph_retrievers(tmp_path, beir_dir, minilm_path, retriever):
    out = tmp_path / "m.json"
    args = ["eval", str(beir_dir), "--split", "dev", "--retriever", retriever, "--index-dir", str(tmp_path / "kb"),
            "--embedding-model", minilm_path, "--k", "2", "--run-file", str(tmp_path / "run"), "--output", str(out)]
    assert main(args) == 0
    metrics = json.loads(out.read_text())
    assert metrics["recall_all@5"] == 1.0 and metrics["config"]["graph_mode"] == "ppr"
    run = [line.split() for line in (tmp_path / "run").read_text().splitlines()]
    assert {p[2] for p in run} == {"film", "st"}


def test_index_with_graph_then_query_prints_paths(tmp_path, capsys):
    docs = tmp_path / "docs.jsonl"
    docs.write_text("\n".join(json.dumps({"id": i, "title": t, "text": x}) for i, t, x in CORPUS))
    assert main(["index", str(docs), "--kb", str(tmp_path / "kb"), "--no-dense", "--graph"]) == 0
    capsys.readouterr()
    assert main(["query", str(tmp_path / "kb"), "Kiss and Tell", "--retriever", "graph", "--graph-mode", "bfs",
                 "--k", "2"]) == 0
    out = capsys.readouterr().out
    assert "path: Kiss and Tell (1945 film) → Shirley Temple → [Shirley Temple]" in out


def test_graph_retrieval_on_a_base_without_graph_is_refused(tmp_path, beir_dir, capsys):
    common = ["eval", str(beir_dir), "--split", "dev", "--index-dir", str(tmp_path / "kb"),
              "--run-file", str(tmp_path / "r"), "--output", str(tmp_path / "m")]
    assert main(common + ["--retriever", "bm25"]) == 0
    assert main(common + ["--retriever", "graph"]) != 0
    assert "no knowledge graph" in capsys.readouterr().err
