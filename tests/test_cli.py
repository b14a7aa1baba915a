import json

import pytest

from rag_plugins.cli import main
from rag_plugins.eval.beir import load_beir
from tests.beir_data import write_beir

CORPUS = [
    ("d1", "Aspirin", "Aspirin reduces the risk of heart attack by inhibiting platelets."),
    ("d2", "Statins", "Statins lower LDL cholesterol and cardiovascular events."),
    ("d3", "Malaria", "Malaria is transmitted by Anopheles mosquitoes carrying Plasmodium."),
    ("d4", "Insulin", "Insulin regulates blood glucose; type 1 diabetes needs insulin therapy."),
    ("d5", "Vaccines", "Vaccines train the immune system to recognise pathogens."),
]
QUERIES = {"q1": ("aspirin prevents heart attacks", ["d1"]), "q2": ("mosquito borne parasite", ["d3"]),
           "q3": ("blood sugar hormone", ["d4"])}


@pytest.fixture
def beir_dir(tmp_path):
    return write_beir(tmp_path / "tiny", CORPUS, QUERIES)


def test_beir_loader(beir_dir):
    ds = load_beir(beir_dir, "test")
    assert len(ds.corpus) == 5 and ds.corpus[0].metadata["title"] == "Aspirin"
    assert ds.queries["q2"] == "mosquito borne parasite" and ds.qrels["q1"] == {"d1": 1}


@pytest.mark.parametrize("retriever", ["bm25", "dense", "hybrid"])
def test_eval_writes_trec_run_and_metrics(tmp_path, beir_dir, minilm_path, retriever, capsys):
    run, out, index = tmp_path / "run.trec", tmp_path / "m.json", tmp_path / "index"
    args = ["eval", str(beir_dir), "--split", "test", "--retriever", retriever, "--index-dir", str(index),
            "--embedding-model", minilm_path, "--k", "3", "--run-file", str(run), "--output", str(out)]
    assert main(args) == 0
    lines = [line.split() for line in run.read_text().splitlines()]
    per_query = 1 if retriever == "bm25" else 3  # each query shares a term with one document only
    assert len(lines) == 3 * per_query
    assert all(len(p) == 6 and p[1] == "Q0" and p[5] == f"rag-plugins-{retriever}" for p in lines)
    assert {p[2] for p in lines} <= {d for d, _, _ in CORPUS}
    assert [p[3] for p in lines[:per_query]] == [str(r) for r in range(1, per_query + 1)]
    metrics = json.loads(out.read_text())
    assert metrics["n_queries"] == 3 and metrics["ndcg@10"] > 0.6
    assert {"index_seconds", "query_seconds", "queries_per_second", "p50_ms", "p95_ms"} <= set(metrics["timings"])
    assert metrics["timings"]["index_reused"] is False
    assert main(args) == 0  # second run reuses the index
    assert json.loads(out.read_text())["timings"]["index_reused"] is True
    assert "reused" in capsys.readouterr().err


def test_eval_refuses_a_mismatched_index(tmp_path, beir_dir, minilm_path, capsys):
    index = tmp_path / "index"
    common = ["eval", str(beir_dir), "--index-dir", str(index), "--run-file", str(tmp_path / "r"), "--output", str(tmp_path / "m")]
    assert main(common + ["--retriever", "bm25"]) == 0  # a BM25-only base
    assert main(common + ["--retriever", "dense", "--embedding-model", minilm_path]) == 2
    assert "--rebuild" in capsys.readouterr().err
    assert main(common + ["--retriever", "dense", "--embedding-model", minilm_path, "--rebuild"]) == 0


def test_index_and_query(tmp_path, minilm_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Setup\n\nInstall the package with pip.\n\n## GPU\n\nUse faiss-gpu on CUDA machines.")
    (docs / "b.txt").write_text("Bananas are yellow fruit rich in potassium.")
    kb = tmp_path / "kb"
    assert main(["index", str(docs), "--kb", str(kb), "--embedding-model", minilm_path]) == 0
    assert "2 added" in capsys.readouterr().out
    assert main(["index", str(docs), "--kb", str(kb)]) == 0
    assert "0 added, 0 updated, 2 unchanged" in capsys.readouterr().out
    (docs / "b.txt").unlink()
    assert main(["index", str(docs), "--kb", str(kb), "--prune"]) == 0
    assert "1 deleted" in capsys.readouterr().out
    assert main(["query", str(kb), "cuda graphics card", "--k", "1", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["metadata"]["heading_path"] == ["Setup", "GPU"] and set(hits[0]["scores"]) >= {"hybrid"}
    assert main(["query", str(kb), "  "]) == 2
    assert "empty" in capsys.readouterr().err


def test_a_query_sharing_no_term_with_the_base_says_so(tmp_path, minilm_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "b.txt").write_text("Bananas are yellow fruit rich in potassium.")
    kb = tmp_path / "kb"
    assert main(["index", str(docs), "--kb", str(kb), "--embedding-model", minilm_path]) == 0
    capsys.readouterr()
    assert main(["query", str(kb), "what is it", "--retriever", "bm25"]) == 0
    assert capsys.readouterr().out.strip() == "no hits: no passage shares a term with the query"
    assert main(["query", str(kb), "what is it", "--retriever", "bm25", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
