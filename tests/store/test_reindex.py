"""Re-embedding a base with another model beside the current generation: readers keep the
old one until the switch and then follow it (real processes), commits made meanwhile are
caught up, a rollback returns to the old model, kill -9 mid-build leaves the base as it
was, and drift and the regression gate tell a harmless re-index from a broken one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rag_plugins import Document, KnowledgeBase
from rag_plugins.cli import main
from rag_plugins.errors import EmbeddingModelMismatchError, InvalidInputError, RegressionGateError
from rag_plugins.loaders import load_documents
from rag_plugins.ops.drift import measure_drift
from rag_plugins.ops.gate import RegressionGate
from rag_plugins.ops.regression import GoldenQuery, write_golden
from tests.conftest import CORPUS
from tests.rerank.test_head import build_tiny_bi_encoder

REPO = Path(__file__).resolve().parents[2]
WORKER = str(Path(__file__).with_name("reindex_worker.py"))
DATA = REPO / "examples" / "data"
QUESTIONS = [json.loads(line) for line in (DATA / "hotpotqa_questions.jsonl").read_text().splitlines()][:10]


def spawn(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAG_PLUGINS_PROGRESS": "0"}
    return subprocess.Popen([sys.executable, WORKER, *args], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def untrained(tmp_path_factory, minilm_path) -> str:
    """A random model of another shape (dimension 32): a re-index that breaks retrieval."""
    return build_tiny_bi_encoder(tmp_path_factory.mktemp("model") / "untrained", minilm_path,
                                 sentence_transformers_layout=True)


def folders(path: Path) -> list[str]:
    return sorted(p.name for p in (path / "generations").iterdir() if p.is_dir())


def test_readers_keep_the_old_model_until_the_switch_then_follow_it(tmp_path, minilm_path, untrained):
    path = tmp_path / "kb"
    with KnowledgeBase.open(path, embedder=minilm_path) as kb:
        kb.upsert(CORPUS)
        kb.commit()
    reader = spawn("serve", str(path))
    seen, errors = [], []

    def read_until(done, seconds=120.0):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            record = json.loads(reader.stdout.readline() or '{"error": "the reader exited"}')
            if "error" in record:
                errors.append(record["error"])
                return
            seen.append(record["seen"])
            if done(record["seen"]):
                return

    try:
        assert reader.stdout.readline().strip() == "serving", reader.stderr.read()[-2000:]
        with KnowledgeBase.open(path) as kb:
            pending = kb.reindex(untrained)
            read_until(lambda s: s[0] > time.time() - 0.2 and len(seen) >= 5)  # searching on beside it
            switch_started = time.time()
            assert kb.switch() == pending.generation
            read_until(lambda s: s[1] == pending.generation)
        (tmp_path / "kb.stop").touch()
        reader.wait(timeout=60)
    finally:
        reader.kill()
        reader.wait()
    assert errors == []
    before = [s for s in seen if s[0] < switch_started]
    assert len(before) >= 5 and {(s[1], s[2], s[3]) for s in before} == {(1, minilm_path, "cats")}
    assert seen[-1][1:3] == [pending.generation, untrained]  # followed the switch, loading the new model
    assert [s[1] for s in seen] == sorted(s[1] for s in seen)  # never back to the old generation


def test_a_switch_catches_up_commits_made_after_the_reindex(tmp_path, minilm_path, untrained):
    with KnowledgeBase.open(tmp_path / "kb", embedder=minilm_path) as kb:
        kb.upsert(CORPUS[:4])
        kb.commit()
        pending = kb.reindex(untrained)
        assert kb.generation == 1 and pending.based_on == 1 and kb.standby()["pending"].generation == pending.generation
        kb.upsert(CORPUS[4:])
        kb.delete(["dogs"])
        assert kb.commit().generation == pending.generation + 1  # numbered above the standby one
        current = kb.switch()
        assert current == pending.generation + 2  # the pending generation, caught up, written anew
        assert kb.settings["embedding"]["model_id"] == untrained and kb.settings["embedding"]["dimension"] == 32
        assert sorted({h.document_id for h in kb.dense_retriever().retrieve("capital city", k=10)}) == \
            ["bm25", "cats", "faiss", "paris", "rome"]
        assert kb.standby()["previous"].generation == pending.generation + 1
        assert folders(kb.path) == [f"{pending.generation + 1:06d}", f"{current:06d}"]
    with KnowledgeBase.open(tmp_path / "kb", read_only=True) as reader:  # reopens with the new model
        assert reader.generation == current and reader.embedder.model_id == untrained
        assert reader.embed_queries(["x"]).shape == (1, 32)


def test_rollback_returns_to_the_old_model_and_rolls_forward_again(tmp_path, minilm_path, untrained):
    with KnowledgeBase.open(tmp_path / "kb", embedder=minilm_path) as kb:
        kb.upsert(CORPUS)
        kb.commit()
        before = [h.chunk.id for h in kb.dense_retriever().retrieve("which animal purrs", k=6)]
        kb.reindex(untrained)
        kb.switch()
        kb.upsert([Document("lyon", "Lyon is a French city known for its cuisine.")])  # committed on the new model
        after_commit = kb.commit().generation
        old = kb.switch("previous")
        assert old > after_commit and kb.settings["embedding"]["model_id"] == minilm_path
        hits = [h.chunk.id for h in kb.dense_retriever().retrieve("which animal purrs", k=7)]
        assert [c for c in hits if not c.startswith("lyon")] == before  # the old model's ranking, caught up
        assert "lyon#0" in hits
        assert kb.standby()["previous"].settings["embedding"]["model_id"] == untrained
        forward = kb.switch("previous")
        assert kb.settings["embedding"]["model_id"] == untrained and forward == after_commit  # nothing to catch up
        assert kb.discard("previous") is not None and kb.standby() == {}
        with pytest.raises(InvalidInputError, match="has no previous generation"):
            kb.switch("previous")
        assert folders(kb.path) == [f"{forward:06d}"]


def test_opening_with_another_model_is_refused_pointing_to_reindex(tmp_path, minilm_path, untrained):
    with KnowledgeBase.open(tmp_path / "kb", embedder=minilm_path) as kb:
        kb.upsert(CORPUS)
        kb.commit()
    with pytest.raises(EmbeddingModelMismatchError, match=r"rag-plugins reindex --kb .* --model .*untrained"):
        KnowledgeBase.open(tmp_path / "kb", embedder=untrained)


def test_kill_9_while_reindexing_leaves_the_base_as_it_was_and_a_rerun_reuses_the_work(tmp_path, minilm_path,
                                                                                      untrained):
    path = tmp_path / "kb"
    docs = [Document(f"d{i}", f"note {i} about topic {i % 17} and item {i * 7 % 101}") for i in range(600)]
    with KnowledgeBase.open(path, embedder=minilm_path, show_progress=False) as kb:
        kb.upsert(docs)
        kb.commit()
    worker = spawn("reindex", str(path), untrained)
    try:
        lines = [worker.stdout.readline(), worker.stdout.readline()]
        assert lines == ["embedded 256\n"] * 2, worker.stderr.read()[-2000:]
        worker.kill()  # SIGKILL mid-build: the first slice cached, the second not yet, nothing written
        worker.wait(timeout=30)
    finally:
        worker.kill()
        worker.wait()
    peek = subprocess.run([sys.executable, WORKER, "peek", str(path)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert json.loads(peek.stdout) == {"generation": 1, "documents": 600}
    from rag_plugins.embeddings import SentenceTransformerEmbedder
    from tests.conftest import CountingEmbedder

    counting = CountingEmbedder(SentenceTransformerEmbedder(untrained, device="cpu"))
    with KnowledgeBase.open(path, show_progress=False) as kb:  # the writer lock was freed by the kill
        assert kb.generation == 1 and kb.standby() == {} and folders(path) == ["000001"]
        kb.reindex(counting)
        assert len(counting.embedded_texts) == 600 - 256  # the killed run's slice came from the cache
        assert kb.switch() == 2 and kb.dense_retriever().retrieve("note 5", k=1)


def hotpot_base(path: Path, model: str) -> Path:
    wanted = {d for q in QUESTIONS for d in q["relevant"]}
    paragraphs = list(load_documents([DATA / "hotpotqa_paragraphs.jsonl"]))
    with KnowledgeBase.open(path, embedder=model, show_progress=False) as kb:
        kb.upsert([d for d in paragraphs if d.id in wanted] + [d for d in paragraphs if d.id not in wanted][:40])
        kb.commit()
    write_golden([GoldenQuery(q["_id"], q["text"], tuple(q["relevant"])) for q in QUESTIONS], path / "golden.jsonl")
    return path


def test_drift_is_nil_for_the_same_model_and_large_for_an_untrained_one(tmp_path, minilm_path, untrained):
    queries = [q["text"] for q in QUESTIONS]
    with KnowledgeBase.open(hotpot_base(tmp_path / "kb", minilm_path)) as kb:
        kb.reindex(minilm_path)
        same = measure_drift(kb, kb.standby_snapshot(), queries, "dense", k=10)
        assert (same.overlap, same.top1_changed) == (1.0, 0.0) and same.rank_correlation == pytest.approx(1.0)
        kb.reindex(untrained)
        other = measure_drift(kb, kb.standby_snapshot(), queries, "dense", k=10)
        assert other.overlap < 0.5 and other.top1_changed >= 0.3 and other.rank_correlation < 0.5
        assert other.generations == (1, kb.standby()["pending"].generation)
        assert kb.generation == 1  # measuring switched nothing


def test_reindex_gate_refuses_a_broken_model_and_switches_an_unchanged_one(tmp_path, minilm_path, untrained, capsys):
    path = hotpot_base(tmp_path / "kb", minilm_path)
    assert main(["reindex", "--kb", str(path), "--model", untrained, "--gate", "--json"]) == 1
    out = capsys.readouterr().out
    outcome = json.loads(out.strip().splitlines()[-1])
    assert outcome["current"] == 1 and outcome["standby"]["pending"]["model_id"] == untrained
    assert not outcome["gate"]["passed"] and outcome["drift"]["queries"] == 10 and "not switched" in out
    assert (path / "golden_baseline.json").exists()  # recorded from generation 1 before the re-index
    assert json.loads((path / "reindex_drift.json").read_text())["queries"] == 10  # what the metrics export
    assert main(["reindex", "--kb", str(path), "--model", minilm_path, "--gate", "--json"]) == 0
    outcome = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert outcome["gate"]["passed"] and outcome["current"] == outcome["switched"] > 1
    assert outcome["drift"]["overlap@10"] == 1.0 and set(outcome["standby"]) == {"previous"}
    assert main(["reindex", "--kb", str(path), "--rollback"]) == 0
    with KnowledgeBase.open(path, read_only=True) as kb:
        assert kb.generation == 1


def test_a_gated_commit_that_drops_answers_publishes_nothing(tmp_path, minilm_path):
    path = hotpot_base(tmp_path / "kb", minilm_path)
    gate = RegressionGate.for_knowledge_base(path)
    with KnowledgeBase.open(path) as kb:
        gate.record_baseline_if_missing(kb)
        total = len(kb)
        kb.delete(sorted({q["relevant"][0] for q in QUESTIONS[:5]}))
        seen_outside: list[dict] = []

        def gate_and_peek(base):  # another process looks at the base while the gate runs
            peek = subprocess.run([sys.executable, WORKER, "peek", str(path)], capture_output=True, text=True,
                                  timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
            seen_outside.append(json.loads(peek.stdout))
            assert base.searchable_snapshot().generation == 2 and len(base) == total - 5  # the candidate
            gate(base)

        with pytest.raises(RegressionGateError, match="refused generation 2") as refused:
            kb.commit(gate=gate_and_peek)
        assert seen_outside == [{"generation": 1, "documents": total}]
        assert not refused.value.verdict.passed and refused.value.verdict.report.regressions
        assert kb.generation == 1 and len(kb) == total and kb.has_pending_changes and folders(path) == ["000001"]
        kb.rollback()
        kb.upsert([Document("extra", "An unrelated paragraph about tides.")])
        assert kb.commit(gate=gate).generation == 2 and gate.last.passed


def test_sync_gate_keeps_a_bad_sync_out_and_the_plain_sync_reports_it(tmp_path, minilm_path, capsys):
    source = tmp_path / "docs"
    source.mkdir()
    paragraphs = {d.id: d for d in load_documents([DATA / "hotpotqa_paragraphs.jsonl"])}
    wanted = list(dict.fromkeys(d for q in QUESTIONS for d in q["relevant"]))
    for doc_id in wanted:
        (source / f"{doc_id}.md").write_text(f"# {paragraphs[doc_id].metadata.get('title', doc_id)}\n\n"
                                             f"{paragraphs[doc_id].text}\n")
    path = tmp_path / "kb"
    assert main(["sync", str(source), "--kb", str(path), "--embedding-model", minilm_path]) == 0
    with KnowledgeBase.open(path, read_only=True) as kb:
        by_file = {kb.get(d).metadata["source"]: d for d in kb.document_ids()}
    golden = [GoldenQuery(q["_id"], q["text"], tuple(by_file[str(source / f"{d}.md")] for d in q["relevant"]))
              for q in QUESTIONS]
    write_golden(golden, path / "golden.jsonl")
    capsys.readouterr()
    for doc_id in wanted[:6]:
        (source / f"{doc_id}.md").unlink()
    assert main(["sync", str(source), "--kb", str(path), "--gate"]) == 1
    out = capsys.readouterr().out
    assert "FAIL: recall@10 fell" in out and "not synced" in out
    with KnowledgeBase.open(path, read_only=True) as kb:
        assert kb.generation == 1 and len(kb) == len(wanted)
    assert main(["sync", str(source), "--kb", str(path)]) == 0  # without --gate: published, and reported
    out = capsys.readouterr().out
    assert "FAIL: recall@10 fell" in out and "synced" in out
    with KnowledgeBase.open(path, read_only=True) as kb:
        assert kb.generation == 2 and len(kb) == len(wanted) - 6


def test_reindex_bad_input_is_one_line(tmp_path, minilm_path, capsys):
    assert main(["reindex", "--kb", str(tmp_path / "none"), "--model", minilm_path]) == 2
    assert "is not a knowledge base" in capsys.readouterr().err
    with KnowledgeBase.open(tmp_path / "kb", embedder=minilm_path) as kb:
        kb.upsert(CORPUS)
        kb.commit()
    assert main(["reindex", "--kb", str(tmp_path / "kb"), "--switch"]) == 2
    assert "has no pending generation; build one with rag-plugins reindex" in capsys.readouterr().err
    assert main(["reindex", "--kb", str(tmp_path / "kb"), "--model", minilm_path, "--gate"]) == 2
    assert "--gate needs golden queries" in capsys.readouterr().err
    (tmp_path / "q.txt").write_text("")
    assert main(["reindex", "--kb", str(tmp_path / "kb"), "--model", minilm_path, "--queries",
                 str(tmp_path / "q.txt")]) == 2
    assert "holds no queries" in capsys.readouterr().err
    with KnowledgeBase.open(tmp_path / "kb") as kb:
        assert kb.standby() == {}  # refused before anything was built


def test_a_later_switch_loads_the_pending_model_by_its_id(tmp_path, minilm_path, untrained, monkeypatch, capsys):
    """The switch runs in another process than the re-index, where the configured model
    ($RAG_PLUGINS_EMBEDDING_MODEL) is the base's current one, not the pending one's."""
    with KnowledgeBase.open(tmp_path / "kb", embedder=minilm_path) as kb:
        kb.upsert(CORPUS)
        kb.commit()
    assert main(["reindex", "--kb", str(tmp_path / "kb"), "--model", untrained]) == 0
    assert "not switched; make it current with" in capsys.readouterr().out
    monkeypatch.setenv("RAG_PLUGINS_EMBEDDING_MODEL", minilm_path)
    assert main(["reindex", "--kb", str(tmp_path / "kb"), "--switch", "--json"]) == 0
    outcome = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert outcome["model"] == untrained and outcome["standby"]["previous"]["model_id"] == minilm_path
    assert main(["reindex", "--kb", str(tmp_path / "kb"), "--rollback", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["model"] == minilm_path
