"""A base served while it is written: real processes, kill -9, threads, one writer."""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rag_plugins import Document, KnowledgeBase
from rag_plugins.errors import InvalidInputError, KnowledgeBaseLockedError, ReadOnlyKnowledgeBaseError
from rag_plugins._search_scope import one_generation_per_search

REPO = Path(__file__).resolve().parents[2]
WORKER = str(Path(__file__).with_name("kb_worker.py"))


def spawn(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAG_PLUGINS_PROGRESS": "0"}
    return subprocess.Popen([sys.executable, WORKER, *args], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def seed(path: Path) -> None:
    with KnowledgeBase.open(path, show_progress=False) as kb:
        kb.upsert([Document("gen", "generation g1 is the newest state of the ledger", {"kind": "gen"})]
                  + [Document(f"d{i}", f"ledger page {i}", {"kind": "page"}) for i in range(12)])
        kb.commit()


def generation_folders(path: Path) -> list[str]:
    return sorted(p.name for p in (path / "generations").iterdir() if p.is_dir())


def retired_rows(path: Path) -> int:
    with sqlite3.connect(path / "kb.sqlite") as conn:
        return conn.execute("SELECT COUNT(*) FROM chunks WHERE retired IS NOT NULL").fetchone()[0]


@pytest.mark.slow
def test_reader_processes_never_lose_a_generation_while_a_writer_commits(tmp_path):
    path = tmp_path / "kb"
    seed(path)
    writer = spawn("writer", str(path), "8")
    readers = [spawn("reader", str(path), "8") for _ in range(2)]
    out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err
    commits = out.count("committed")
    assert commits >= 10
    searches = 0
    for reader in readers:
        out, err = reader.communicate(timeout=120)
        assert reader.returncode == 0, err
        summary = json.loads(out.strip().splitlines()[-1])
        assert summary["errors"] == []
        assert summary["searches"] >= 20 and summary["went_back"] == 0
        assert summary["last"] > summary["first"]  # it followed the writer
        searches += summary["searches"]
    print(f"\nreaders in 2 processes: {searches} searches during {commits} commits, every hit from "
          "the generation searched, none short, no error")
    with KnowledgeBase.open(path) as kb:  # the writer's open collects what no one needs now
        assert kb.generation == commits + 1
        assert generation_folders(path) == [f"{kb.generation:06d}"]
    assert retired_rows(path) == 0


@pytest.mark.slow
def test_kill_9_at_random_moments_of_commit_reopens_at_n_or_n_plus_1(tmp_path):
    path = tmp_path / "kb"
    seed(path)
    runs = 30
    reader = spawn("reader", str(path), "600")
    rng = random.Random(15)
    outcomes = {"n": 0, "n+1": 0}
    try:
        for _ in range(runs):
            writer = spawn("writer", str(path), "60")
            time.sleep(rng.uniform(1.0, 2.5))  # the interpreter starts in ~1 s, then commits back to back
            writer.send_signal(signal.SIGKILL)
            out, _ = writer.communicate(timeout=60)
            done = [int(line.split()[1]) for line in out.splitlines() if line.startswith("committed")]
            with KnowledgeBase.open(path, show_progress=False) as kb:
                n = done[-1] if done else kb.generation
                assert kb.generation in (n, n + 1)
                outcomes["n" if kb.generation == n else "n+1"] += 1
                hits = kb.bm25_retriever().retrieve("newest ledger state generation", k=1)
                assert hits[0].chunk.text == f"generation g{kb.generation} is the newest state of the ledger"
    finally:
        Path(f"{path}.stop").touch()
    out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["errors"] == [] and summary["went_back"] == 0 and summary["searches"] > 100
    assert outcomes["n"] + outcomes["n+1"] == runs
    print(f"\nkill -9 during commits: {runs} runs, reopened at N {outcomes['n']} times and at N+1 "
          f"{outcomes['n+1']} times, never anything else; a reader process searched {summary['searches']} times throughout "
          "without an error")


def test_a_second_writer_process_is_refused_and_the_lock_dies_with_its_holder(tmp_path):
    path = tmp_path / "kb"
    seed(path)
    holder = spawn("hold", str(path))
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(KnowledgeBaseLockedError, match=f"pid {holder.pid}"):
            KnowledgeBase.open(path)
        with KnowledgeBase.open(path, read_only=True) as reader:  # readers are never refused
            assert reader.bm25_retriever().retrieve("ledger", k=1)
        threading.Timer(1.0, holder.send_signal, (signal.SIGKILL,)).start()
        started = time.monotonic()
        with KnowledgeBase.open(path, lock_timeout=30) as kb:  # waits for the kill, then takes over
            assert time.monotonic() - started >= 0.5
            kb.upsert([Document("after", "the next writer commits")])
            assert kb.commit().generation == 2
    finally:
        holder.kill()
        holder.communicate()


def test_a_second_writer_in_the_same_process_is_refused(tmp_path):
    with KnowledgeBase.open(tmp_path) as kb:
        with pytest.raises(KnowledgeBaseLockedError, match=f"pid {os.getpid()}"):
            KnowledgeBase.open(tmp_path)
        kb.upsert([Document("a", "still the writer")])
        kb.commit()
    KnowledgeBase.open(tmp_path).close()  # closing released it


def test_read_only_opens_never_write(tmp_path):
    with pytest.raises(InvalidInputError, match="no knowledge base"):
        KnowledgeBase.open(tmp_path / "missing", read_only=True)
    assert not (tmp_path / "missing").exists()
    seed(tmp_path / "kb")
    with KnowledgeBase.open(tmp_path / "kb", read_only=True) as kb:
        for call in (lambda: kb.upsert([Document("x", "y")]), lambda: kb.delete(["d1"]), kb.commit):
            with pytest.raises(ReadOnlyKnowledgeBaseError, match="read_only=True"):
                call()
        assert kb.get("d1").text == "ledger page 1"


def test_a_leased_generation_outlives_later_commits_and_is_collected_after(tmp_path):
    path = tmp_path / "kb"
    seed(path)
    reader = KnowledgeBase.open(path, read_only=True, auto_refresh=False)
    with KnowledgeBase.open(path) as writer:
        for g in (2, 3, 4):
            writer.upsert([Document("gen", f"generation g{g} is the newest state of the ledger")])
            writer.commit()
        assert generation_folders(path) == ["000001", "000004"]  # 2 and 3 had no reader
        old = reader.bm25_retriever().retrieve("newest ledger", k=1)[0]
        assert (reader.generation, old.chunk.text) == (1, "generation g1 is the newest state of the ledger")
        assert reader.refresh() is True and reader.generation == 4
        assert reader.bm25_retriever().retrieve("newest ledger", k=1)[0].chunk.text.startswith("generation g4")
        writer.upsert([Document("gen", "generation g5 is the newest state of the ledger")])
        writer.commit()
        assert generation_folders(path) == ["000004", "000005"]  # the reader moved to 4 and holds it
        reader.close()
        writer.upsert([Document("gen", "generation g6 is the newest state of the ledger")])
        writer.commit()
        assert generation_folders(path) == ["000006"]
        assert retired_rows(path) == 0


@pytest.mark.slow
def test_threads_always_get_full_pages_from_one_generation_while_a_writer_commits(tmp_path):
    path = tmp_path / "kb"
    with KnowledgeBase.open(path, show_progress=False) as kb:
        kb.upsert([Document(f"p{i}", f"shared page {i} at g1", {"keep": True}) for i in range(8)])
        kb.commit()
    reader = KnowledgeBase.open(path, read_only=True)
    retriever = reader.bm25_retriever()
    stop = threading.Event()
    problems: list[str] = []
    searches = [0]

    def search() -> None:
        while not stop.is_set():
            with one_generation_per_search():
                g = reader.searchable_snapshot().generation
                hits = retriever.retrieve("shared page", k=5, filters={"keep": True})
            gens = {h.chunk.text.rsplit(" ", 1)[1] for h in hits}
            if len(hits) != 5 or gens != {f"g{g}"}:
                problems.append(f"g{g}: {len(hits)} hits from {gens}")
            searches[0] += 1

    threads = [threading.Thread(target=search) for _ in range(8)]
    for t in threads:
        t.start()
    with KnowledgeBase.open(path, show_progress=False) as writer:
        for g in range(2, 30):  # every commit replaces every page the searches can see
            writer.upsert([Document(f"p{i}", f"shared page {i} at g{g}", {"keep": True}) for i in range(8)])
            writer.commit()
    time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join()
    reader.close()
    assert problems == [] and searches[0] > 50
    print(f"\n8 reader threads: {searches[0]} searches during 28 commits, 0 short pages, 0 mixed generations")


def test_the_cli_writes_only_when_no_one_else_does_and_queries_alongside_a_writer(tmp_path, capsys):
    from rag_plugins.cli import main

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# Ledger\n\nThe ledger records every payment.")
    base = tmp_path / "kb"
    assert main(["index", str(tmp_path / "docs"), "--kb", str(base), "--no-dense"]) == 0
    with KnowledgeBase.open(base):  # a sync job holds the base
        capsys.readouterr()
        assert main(["index", str(tmp_path / "docs"), "--kb", str(base), "--no-dense"]) != 0
        err = capsys.readouterr().err
        assert f"open for writing by pid {os.getpid()}" in err and "Traceback" not in err
        assert main(["query", str(base), "payment ledger", "--retriever", "bm25"]) == 0  # readers are welcome
        assert "ledger records every payment" in capsys.readouterr().out
