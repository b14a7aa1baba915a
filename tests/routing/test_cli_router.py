"""``train-router``, then ``eval``/``query --retriever routed`` with each router."""

from __future__ import annotations

import json

import pytest

from rag_plugins.cli import main
from tests.beir_data import write_beir
from tests.routing.routing_data import CORPUS, QUERIES


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("routing-beir") / "ds"
    write_beir(root, CORPUS, QUERIES, split="train")
    (root / "qrels" / "dev.tsv").write_text((root / "qrels" / "train.tsv").read_text())
    return root


def test_train_router_then_evaluate_every_router(tmp_path, dataset_dir, minilm_path, capsys):
    kb_dir, router_dir = tmp_path / "kb", tmp_path / "router"
    assert main(["train-router", str(dataset_dir), "--split", "train", "--output", str(router_dir),
                 "--index-dir", str(kb_dir), "--embedding-model", minilm_path]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["routes"] == ["bm25", "dense", "hybrid", "graph", "graph+hybrid"]
    assert trained["queries"] == 10 and (router_dir / "weights.npy").exists()

    def evaluate(*router_args: str) -> dict:
        out = tmp_path / "m.json"
        assert main(["eval", str(dataset_dir), "--split", "dev", "--retriever", "routed", *router_args,
                     "--index-dir", str(kb_dir), "--k", "5", "--run-file", str(tmp_path / "run"),
                     "--output", str(out)]) == 0
        return json.loads(out.read_text())

    learned = evaluate("--router", "learned", "--router-path", str(router_dir))
    assert learned["routing"]["router"] == "learned" and learned["routing"]["router_path"] == str(router_dir)
    assert sum(learned["routing"]["decisions"].values()) == 10
    assert learned["recall@5"] >= 0.9
    rules = evaluate("--router", "rules")
    assert rules["routing"]["decisions"]["bm25"] == 5  # three error codes and two section numbers
    llm = evaluate("--router", "llm", "--llm", "tests.routing.scripted_llm:factory")
    assert llm["routing"]["decisions"] == {"dense": 5, "bm25": 5}  # one route each: confident answers
    assert main(["eval", str(dataset_dir), "--split", "dev", "--retriever", "routed", "--router", "learned",
                 "--index-dir", str(kb_dir), "--run-file", str(tmp_path / "r"), "--output", str(tmp_path / "o")]) == 2
    assert "--router learned needs --router-path" in capsys.readouterr().err


def test_query_prints_the_route_and_why(tmp_path, dataset_dir, minilm_path, capsys):
    docs = tmp_path / "docs.jsonl"
    docs.write_text("\n".join(json.dumps({"id": i, "title": t, "text": x}) for i, t, x in CORPUS))
    assert main(["index", str(docs), "--kb", str(tmp_path / "kb"), "--embedding-model", minilm_path]) == 0
    capsys.readouterr()
    assert main(["query", str(tmp_path / "kb"), "what does E4012 mean", "--retriever", "routed", "--k", "1"]) == 0
    out = capsys.readouterr().out
    assert "route: bm25 1.00 (router rules, confidence 0.90)" in out
    assert 'why: identifier "E4012" → bm25' in out
    assert "e1#0" in out

    # a reused base without a knowledge graph is routed over the routes it has
    out_file = tmp_path / "m.json"
    assert main(["eval", str(dataset_dir), "--split", "dev", "--retriever", "routed", "--index-dir",
                 str(tmp_path / "kb"), "--k", "5", "--run-file", str(tmp_path / "run"), "--output", str(out_file)]) == 0
    decisions = json.loads(out_file.read_text())["routing"]["decisions"]
    assert sum(decisions.values()) == 10 and not any("graph" in key for key in decisions)
    assert json.loads(out_file.read_text())["routing"]["routes"] == ["bm25", "dense", "hybrid"]
