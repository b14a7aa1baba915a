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


def test_an_adaptive_blended_rerank_reads_the_first_stage_confidence(beir_dir, tmp_path, tiny_cross_encoder,
                                                                      minilm_path, capsys):
    index, confidence = tmp_path / "index", tmp_path / "first-stage.json"
    hybrid = ["--retriever", "hybrid", "--embedding-model", minilm_path, "--index-dir", str(index)]
    assert main(["calibrate", str(beir_dir), "--split", "train", *hybrid, "--top-k", "1", "--candidates", "6",
                 "--output", str(confidence)]) == 0
    assert json.loads(confidence.read_text())["metadata"]["candidates"] == 6
    capsys.readouterr()
    metrics = tmp_path / "metrics.json"
    assert main(["eval", str(beir_dir), "--split", "test", *hybrid, "--k", "5", "--rerank", tiny_cross_encoder,
                 "--rerank-depth", "6", "--rerank-adaptive", str(confidence),
                 "--rerank-blend", "rerank=0.5,bm25=0.25,dense=0.25", "--run-file", str(tmp_path / "run"),
                 "--output", str(metrics)]) == 0
    out = json.loads(metrics.read_text())
    shares = out["adaptive_rerank"]["share_by_depth"]
    assert sum(shares.values()) == pytest.approx(1.0) and all(0 <= int(d) <= 6 for d in shares)
    assert 0 <= out["adaptive_rerank"]["mean_depth"] <= 6
    assert out["config"]["rerank_blend"] == "rerank=0.5,bm25=0.25,dense=0.25"
    assert out["config"]["rerank_adaptive"] == str(confidence)


def test_adaptive_tiers_are_capped_by_the_rerank_depth(tmp_path):
    from rag_plugins.cli.common import adaptive_depth
    from rag_plugins.confidence import ConfidenceEstimator
    from rag_plugins.rerank import adaptive as defaults

    from rag_plugins import Chunk, Hit

    path = tmp_path / "c.json"
    hits = [[Hit(Chunk(f"d{i}#0", f"d{i}", "t", 0), s)] for i, s in enumerate([0.1, 0.2, 0.9, 0.8] * 5)]
    ConfidenceEstimator().fit(hits, [0, 0, 1, 1] * 5).save(path)
    policy = adaptive_depth(str(path), 7)
    assert policy.max_depth == 7 and policy.confident_depth == min(defaults.CONFIDENT_DEPTH, 7)
    deep = adaptive_depth(str(path), 1000)
    assert (deep.confident_depth, deep.depth, deep.unsure_depth) == (
        defaults.CONFIDENT_DEPTH, defaults.DEPTH, defaults.UNSURE_DEPTH)
    reranked = ConfidenceEstimator.load(path)
    reranked.metadata["rerank"] = "some/cross-encoder"
    reranked.save(path)
    with pytest.raises(Exception, match="fitted on reranked hits"):
        adaptive_depth(str(path), 7)


@pytest.mark.parametrize("flags, message", [
    (["--rerank-blend", "rerank=0.5,bm25=0.5"], "name the cross-encoder with --rerank"),
    (["--rerank", "x", "--rerank-blend", "rerank:0.5"], "SOURCE=WEIGHT pairs"),
    (["--rerank", "x", "--rerank-blend", "bm25=0.5,dense=0.5"], "must weigh the cross-encoder's score"),
])
def test_bad_rerank_flags_are_refused_before_anything_runs(beir_dir, tmp_path, capsys, flags, message):
    code = main(["eval", str(beir_dir), "--split", "test", "--retriever", "bm25", "--index-dir", str(tmp_path / "i"),
                 *flags, "--run-file", str(tmp_path / "r"), "--output", str(tmp_path / "m")])
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "r").exists() and not (tmp_path / "m").exists()
