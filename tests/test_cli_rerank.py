"""The reranking commands end to end on a tiny BEIR folder: train-reranker, calibrate,
eval --rerank --confidence."""

import json

import pytest

from rag_plugins.cli import main
from rag_plugins.rerank import CrossEncoderReranker
from rag_plugins.rerank.training import TRAINING_RECORD

TOPICS = {
    "eiffel": ("Eiffel Tower", "The Eiffel Tower is 330 metres tall and stands in Paris."),
    "nile": ("Nile", "The Nile is the longest river in Africa, flowing to the Mediterranean."),
    "everest": ("Everest", "Mount Everest is the highest mountain above sea level."),
    "python": ("Python", "Python is a programming language created by Guido van Rossum."),
    "insulin": ("Insulin", "Insulin is a hormone that regulates blood glucose."),
    "jupiter": ("Jupiter", "Jupiter is the largest planet of the solar system."),
    "malaria": ("Malaria", "Malaria is spread by mosquitoes carrying Plasmodium parasites."),
    "bread": ("Sourdough", "Sourdough bread rises with a starter of wild yeast."),
}
QUERIES = {  # answerable by their words, and (u*) judged against a document they do not mention
    "q1": ("how tall is the Eiffel Tower", "eiffel"), "q2": ("longest river in Africa", "nile"),
    "q3": ("highest mountain above sea level", "everest"), "q4": ("who created Python", "python"),
    "q5": ("hormone for blood glucose", "insulin"), "q6": ("largest planet", "jupiter"),
    "q7": ("mosquitoes and parasites", "malaria"), "q8": ("wild yeast starter", "bread"),
    "u1": ("chess opening theory", "eiffel"), "u2": ("jazz saxophone solos", "nile"),
    "u3": ("stock market crash", "everest"), "u4": ("medieval falconry", "python"),
    "u5": ("arctic sea ice", "insulin"), "u6": ("volcano forecasting", "jupiter"),
}


@pytest.fixture
def beir_dir(tmp_path):
    root = tmp_path / "toy"
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("\n".join(
        json.dumps({"_id": i, "title": t, "text": x}) for i, (t, x) in TOPICS.items()))
    (root / "queries.jsonl").write_text("\n".join(json.dumps({"_id": q, "text": t}) for q, (t, _) in QUERIES.items()))
    qrels = "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, (_, d) in QUERIES.items())
    (root / "qrels" / "train.tsv").write_text(qrels)
    (root / "qrels" / "test.tsv").write_text(qrels)
    return root


def test_train_calibrate_and_evaluate_a_reranked_pipeline(beir_dir, tmp_path, tiny_cross_encoder, minilm_path,
                                                          capsys):
    # hybrid, not bm25: a BM25 hit shares a term with the query, and most of these queries share terms with
    # their judged document only, which leaves BM25 no negatives to mine and fewer than --k hits to rerank
    model, index = tmp_path / "reranker", tmp_path / "index"
    hybrid = ["--retriever", "hybrid", "--embedding-model", minilm_path]
    assert main(["train-reranker", str(beir_dir), "--split", "train", "--base", tiny_cross_encoder,
                 "--output", str(model), *hybrid, "--index-dir", str(index), "--epochs", "1",
                 "--negatives", "3", "--max-length", "64", "--holdout", "0.3", "--seed", "3"]) == 0
    record = json.loads((model / TRAINING_RECORD).read_text())
    held = record["data"]["held_out_queries"]
    assert 0 < len(held) < len(QUERIES) and record["data"]["queries"] == len(QUERIES) - len(held)
    assert record["groups"] == len(QUERIES) - len(held) and record["data"]["miner"] == "hybrid"
    assert CrossEncoderReranker(str(model), device="cpu").rerank("x", []) == []
    capsys.readouterr()

    confidence = tmp_path / "confidence.json"
    assert main(["calibrate", str(beir_dir), "--split", "train", *hybrid, "--index-dir", str(index),
                 "--top-k", "1", "--output", str(confidence)]) == 0
    fitted = json.loads(confidence.read_text())
    assert fitted["metadata"]["n_queries"] == len(QUERIES) and fitted["metadata"]["top_k"] == 1
    capsys.readouterr()

    run, metrics = tmp_path / "run.trec", tmp_path / "metrics.json"
    assert main(["eval", str(beir_dir), "--split", "test", *hybrid, "--index-dir", str(index),
                 "--rerank", str(model), "--rerank-depth", "5", "--k", "5", "--confidence", str(confidence),
                 "--run-file", str(run), "--output", str(metrics)]) == 0
    lines = [line.split() for line in run.read_text().splitlines()]
    assert len(lines) == 5 * len(QUERIES) and {p[5] for p in lines} == {"rag-plugins-hybrid-rerank"}
    out = json.loads(metrics.read_text())
    assert out["config"]["rerank"] == str(model) and out["config"]["rerank_depth"] == 5
    report = out["confidence"]
    assert 0.0 <= report["auroc"] <= 1.0 and 0.0 <= report["ece"] <= 1.0
    assert report["event"] == "relevant document in the top 1" and len(report["risk_coverage"]) == 6


def test_calibrate_on_the_held_out_queries_only(beir_dir, tmp_path, capsys):
    confidence = tmp_path / "confidence.json"
    code = main(["calibrate", str(beir_dir), "--split", "train", "--retriever", "bm25",
                 "--index-dir", str(tmp_path / "index"), "--holdout", "0.3", "--seed", "3", "--output", str(confidence)])
    # a handful of held-out queries is too few to fit on: a typed, explained refusal, and no file
    assert code == 2 and "at least 10 labelled queries" in capsys.readouterr().err
    assert not confidence.exists()


def test_eval_refuses_a_missing_reranker(beir_dir, tmp_path, capsys):
    code = main(["eval", str(beir_dir), "--split", "test", "--retriever", "bm25", "--index-dir", str(tmp_path / "i"),
                 "--rerank", str(tmp_path / "nope"), "--run-file", str(tmp_path / "r"), "--output", str(tmp_path / "m")])
    assert code == 2 and "nope' is not a folder on this machine" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
