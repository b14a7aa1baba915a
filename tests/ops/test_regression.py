"""The regression gate: the first run records a baseline, an unchanged base passes, and a
re-index that broke retrieval (documents dropped, another embedding model) fails, naming
the queries that got worse."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag_plugins import KnowledgeBase
from rag_plugins.cli import main
from rag_plugins.errors import InvalidInputError
from rag_plugins.loaders import load_documents
from rag_plugins.ops.regression import GoldenQuery, compare, load_golden, run_golden, write_golden
from tests.beir_data import write_beir

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
QUESTIONS = [json.loads(line) for line in (DATA / "hotpotqa_questions.jsonl").read_text().splitlines()]


def build(path: Path, drop: set[str] = frozenset()) -> Path:
    """The demo corpus, BM25 only, without the ``drop`` documents."""
    with KnowledgeBase.open(path) as kb:
        kb.upsert(d for d in load_documents([DATA / "hotpotqa_paragraphs.jsonl"]) if d.id not in drop)
        kb.commit()
    return path


@pytest.fixture(scope="module")
def golden_kb(tmp_path_factory):
    root = tmp_path_factory.mktemp("golden")
    kb = build(root / "kb")
    write_golden([GoldenQuery(q["_id"], q["text"], tuple(q["relevant"])) for q in QUESTIONS], kb / "golden.jsonl")
    return kb


def regress(capsys, *args):
    code = main(["regress", *map(str, args), "--retriever", "bm25", "--json"])
    out = capsys.readouterr().out
    return code, out, json.loads(out.strip().splitlines()[-1])


def test_the_first_run_records_the_baseline_and_an_unchanged_base_passes(golden_kb, tmp_path, capsys):
    baseline = tmp_path / "baseline.json"
    code, out, verdict = regress(capsys, golden_kb, "--baseline", baseline)
    assert code == 0 and verdict["recorded"] == str(baseline) and "baseline recorded" in out
    stored = json.loads(baseline.read_text())
    assert stored["k"] == 10 and len(stored["queries"]) == 30 and stored["overall"]["recall@10"] == verdict["recall"]
    code, out, verdict = regress(capsys, golden_kb, "--baseline", baseline)
    assert code == 0 and verdict["passed"] and verdict["regressions"] == [] and out.count("PASS") == 1


def test_a_reindex_that_dropped_documents_fails_and_names_the_queries(golden_kb, tmp_path, capsys):
    baseline = tmp_path / "baseline.json"
    regress(capsys, golden_kb, "--baseline", baseline)
    lost = QUESTIONS[:6]
    broken = build(tmp_path / "broken", drop={q["relevant"][0] for q in lost})
    shutil.copy(golden_kb / "golden.jsonl", broken / "golden.jsonl")
    code, out, verdict = regress(capsys, broken, "--baseline", baseline)
    assert code == 1 and not verdict["passed"]
    assert verdict["recall"]["now"] < verdict["recall"]["baseline"] - 0.02
    assert any(f.startswith("recall@10 fell from") for f in verdict["failures"])
    worse = {r["query"] for r in verdict["regressions"]}
    assert worse and worse <= {q["text"] for q in lost}
    assert f"worse: {sorted(worse)[0]!r}" in out and "now retrieves" in out and "FAIL: recall@10 fell" in out


def test_a_reindex_with_another_embedding_model_fails(tmp_path, capsys, minilm_path):
    """Dense search re-indexed with an untrained model of the same shape: the gate catches it."""
    from tests.rerank.test_head import build_tiny_bi_encoder

    questions = QUESTIONS[:10]
    wanted = {d for q in questions for d in q["relevant"]}
    paragraphs = list(load_documents([DATA / "hotpotqa_paragraphs.jsonl"]))
    subset = [d for d in paragraphs if d.id in wanted] + [d for d in paragraphs if d.id not in wanted][:40]
    untrained = build_tiny_bi_encoder(tmp_path / "untrained", minilm_path, sentence_transformers_layout=True)
    for name, model in (("real", minilm_path), ("untrained", untrained)):
        with KnowledgeBase.open(tmp_path / name, embedder=model) as kb:
            kb.upsert(subset)
            kb.commit()
    golden = tmp_path / "golden.jsonl"
    write_golden([GoldenQuery(q["_id"], q["text"], tuple(q["relevant"])) for q in questions], golden)
    baseline = tmp_path / "baseline.json"
    args = ["--golden", golden, "--baseline", baseline, "--retriever", "dense", "--json"]
    assert main(["regress", str(tmp_path / "real"), *map(str, args)]) == 0
    capsys.readouterr()
    assert main(["regress", str(tmp_path / "untrained"), *map(str, args)]) == 1
    verdict = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert verdict["mrr"]["now"] < verdict["mrr"]["baseline"] - 0.02 and len(verdict["regressions"]) >= 3


def test_min_rank_is_a_hard_floor(golden_kb):
    with KnowledgeBase.open(golden_kb, read_only=True) as kb:
        bm25 = kb.bm25_retriever()
        first = bm25.retrieve(QUESTIONS[0]["text"], k=10)[0].document_id
        golden = [GoldenQuery("q", QUESTIONS[0]["text"], (first,), min_rank=1)]
        baseline = run_golden(bm25, golden).to_baseline()
        assert baseline["queries"]["q"]["met_min_rank"] is True
        moved = [GoldenQuery("q", QUESTIONS[0]["text"], (first,), min_rank=1)]
        demoted = run_golden(_Demoting(bm25, first), moved)
    report = compare(demoted, baseline, margin=1.0)  # the means may fall; the floor may not
    assert not report.passed and report.failures == ("1 queries no longer reach their min_rank",)


class _Demoting:
    """The real BM25 with one document pushed from first to second place."""

    name = "bm25"

    def __init__(self, inner, document):
        self.inner, self.document = inner, document

    def retrieve(self, query, k=10, filters=None):
        hits = self.inner.retrieve(query, k=k, filters=filters)
        if hits and hits[0].document_id == self.document and len(hits) > 1:
            hits[0], hits[1] = hits[1], hits[0]
        return hits


def test_golden_files_and_baselines_that_do_not_fit_are_typed_errors(golden_kb, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    for line, message in [("not json", "line 1 is not JSON"), ('{"query": "x"}', "'expected' must be"),
                          ('{"query": "", "expected": ["a"]}', "'query' must be"),
                          ('{"query": "x", "expected": ["a"], "min_rank": 0}', "'min_rank' must be")]:
        bad.write_text(line + "\n")
        with pytest.raises(InvalidInputError, match=message):
            load_golden(bad)
    baseline = tmp_path / "baseline.json"
    regress(capsys, golden_kb, "--baseline", baseline)
    assert main(["regress", str(golden_kb), "--baseline", str(baseline), "--retriever", "bm25", "--k", "5"]) == 2
    assert "recorded at k=10" in capsys.readouterr().err
    changed = tmp_path / "changed.jsonl"
    changed.write_text((golden_kb / "golden.jsonl").read_text().splitlines()[0] + "\n")
    assert main(["regress", str(golden_kb), "--golden", str(changed), "--baseline", str(baseline),
                 "--retriever", "bm25"]) == 2
    assert "golden file changed" in capsys.readouterr().err
    assert main(["regress", str(tmp_path), "--retriever", "bm25"]) == 2
    assert "is not a knowledge base" in capsys.readouterr().err


def test_golden_queries_from_beir_qrels(tmp_path, capsys):
    beir = write_beir(tmp_path / "beir", [("d1", "A", "alpha"), ("d2", "B", "beta")],
                      {"q1": ("what is alpha", ["d1"]), "q2": ("and beta", ["d2", "d1"])})
    assert main(["golden", str(beir), "--output", str(tmp_path / "golden.jsonl")]) == 0
    assert "2 golden queries" in capsys.readouterr().out
    assert [(g.id, g.query, g.expected) for g in load_golden(tmp_path / "golden.jsonl")] == [
        ("q1", "what is alpha", ("d1",)), ("q2", "and beta", ("d2", "d1"))]
    assert main(["golden", str(beir), "--output", str(tmp_path / "golden.jsonl")]) == 2
    assert "exists" in capsys.readouterr().err


def test_golden_queries_from_the_answers_users_accepted(tmp_path, capsys):
    from rag_plugins.ops.retrieval_log import RetrievalLog

    kb = build(tmp_path / "kb")
    first, second, third = QUESTIONS[:3]
    with RetrievalLog(kb) as log:
        log.record_feedback(first["text"], first["relevant"])
        log.record_feedback(second["text"], second["relevant"][:1])
        log.record_feedback(second["text"], [], accepted=False)  # later rejected: withdrawn
        log.record_feedback(third["text"], third["relevant"])
        log.record_feedback(" ".join(third["text"].split()) + " ", third["relevant"])  # the same query, again
        with pytest.raises(InvalidInputError, match="names the ids it rested on"):
            log.record_feedback("q", [])
    output = tmp_path / "golden.jsonl"
    assert main(["golden", "--from-log", str(kb), "--output", str(output), "--min-accepted", "2"]) == 0
    golden = load_golden(output)
    assert [(g.query.strip(), g.expected) for g in golden] == [(third["text"], tuple(third["relevant"]))]
    output.unlink()
    assert main(["golden", "--from-log", str(kb), "--output", str(output)]) == 0
    assert {g.query.strip() for g in load_golden(output)} == {first["text"], third["text"]}
    capsys.readouterr()
    assert main(["regress", str(kb), "--golden", str(output), "--retriever", "bm25", "--baseline",
                 str(tmp_path / "b.json")]) == 0
    assert main(["golden", "--output", str(tmp_path / "x.jsonl")]) == 2
    assert "either a BEIR dataset folder or --from-log" in capsys.readouterr().err
