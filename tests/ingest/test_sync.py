"""``kb.sync`` and ``rag-plugins sync``: new, changed, touched, removed and broken files, one
commit per run, and a real process killed with SIGKILL halfway through."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag_plugins import KnowledgeBase
from rag_plugins.cli import main
from rag_plugins.errors import InvalidInputError
from tests.ingest.documents import HTML_PAGE, PYTHON_MODULE
from tests.processes import default_sigint

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def folder(tmp_path):
    root = tmp_path / "docs"
    (root / "guides").mkdir(parents=True)
    (root / "guides" / "deploy.html").write_text(HTML_PAGE)
    (root / "cache.py").write_text(PYTHON_MODULE)
    (root / "notes.md").write_text("# Notes\n\nThe widget ships in May.\n")
    (root / "todo.md").write_text("# Todo\n\nWrite the release notes.\n")
    return root


def touch(path: Path, seconds: float = 5.0) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + int(seconds * 1e9)))


def test_a_second_sync_of_unchanged_files_reads_none_of_them(folder, tmp_path, counting_embedder):
    kb = KnowledgeBase.open(tmp_path / "kb", embedder=counting_embedder, show_progress=False)
    first = kb.sync([folder])
    assert (len(first.added), first.files, first.files_loaded, first.generation) == (4, 4, 4, 1)
    assert first.chunks_embedded == len(counting_embedder.embedded_texts) > 0
    again = kb.sync([folder])
    assert (len(again.unchanged), again.files_hashed, again.files_loaded, again.chunks_embedded) == (4, 0, 0, 0)
    assert again.generation == 1  # nothing changed: no new generation
    touch(folder / "notes.md")  # mtime moved, content the same: hashed, not loaded
    touched = kb.sync([folder])
    assert (touched.files_hashed, touched.files_loaded, len(touched.unchanged), touched.generation) == (1, 0, 4, 1)
    assert kb.sync([folder]).files_hashed == 0  # the new mtime was recorded
    embedded = len(counting_embedder.embedded_texts)
    (folder / "notes.md").write_text("# Notes\n\nThe widget ships in June.\n")
    changed = kb.sync([folder])
    assert (changed.updated, changed.files_loaded, changed.generation) == ([(folder / "notes.md").as_posix()], 1, 2)
    assert counting_embedder.embedded_texts[embedded:] == ["Notes\nThe widget ships in June."]
    (folder / "todo.md").unlink()
    removed = kb.sync([folder])
    assert removed.removed == [(folder / "todo.md").as_posix()] and len(kb) == 3


def test_document_freshness_is_recorded(folder, tmp_path):
    kb = KnowledgeBase.open(tmp_path / "kb", show_progress=False)
    kb.sync([folder])
    notes = (folder / "notes.md").as_posix()
    first = kb.document_info(notes)
    assert first["version"] == 1 and first["source"] == notes
    assert first["first_indexed"] == pytest.approx(first["updated_at"])
    assert first["source_mtime"] == pytest.approx((folder / "notes.md").stat().st_mtime)
    time.sleep(0.05)
    (folder / "notes.md").write_text("# Notes\n\nThe widget ships in June.\n")
    touch(folder / "notes.md")
    kb.sync([folder])
    later = kb.document_info(notes)
    assert later["version"] == 2 and later["first_indexed"] == first["first_indexed"]
    assert later["updated_at"] > first["updated_at"] and later["source_mtime"] > first["source_mtime"]


def test_globs_and_gitignore_choose_the_files(folder, tmp_path):
    (folder / ".gitignore").write_text("todo.md\n")
    kb = KnowledgeBase.open(tmp_path / "kb", show_progress=False)
    kb.sync([folder], exclude=["guides/"])
    assert sorted(Path(i).name for i in kb.document_ids()) == ["cache.py", "notes.md"]
    kb.sync([folder], include=["**/*.html", "*.md"], gitignore=False)  # the others are pruned
    assert sorted(Path(i).name for i in kb.document_ids()) == ["deploy.html", "notes.md", "todo.md"]
    with pytest.raises(InvalidInputError, match="include takes a list"):
        kb.sync([folder], include="*.md")


def test_a_file_that_breaks_keeps_its_documents_and_prune_can_be_off(folder, tmp_path):
    kb = KnowledgeBase.open(tmp_path / "kb", show_progress=False)
    kb.sync([folder])
    (folder / "notes.md").write_bytes(b"caf\xe9")
    report = kb.sync([folder])
    assert [(f.path.name, f.kind) for f in report.failed] == [("notes.md", "unreadable")]
    assert "not valid UTF-8" in report.failed[0].reason
    assert "ships in May" in kb.get((folder / "notes.md").as_posix()).text  # the last good version stays
    (folder / "todo.md").unlink()
    assert kb.sync([folder], prune=False).removed == [] and len(kb) == 4
    with pytest.raises(InvalidInputError, match="does not exist"):
        kb.sync([folder / "missing"])


def test_cli_sync_prints_one_json_report_last(folder, tmp_path, capsys):
    assert main(["sync", str(folder), "--kb", str(tmp_path / "kb"), "--no-dense", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {k: report[k] for k in ("added", "updated", "removed", "unchanged", "failed", "chunks_embedded")} == {
        "added": 4, "updated": 0, "removed": 0, "unchanged": 0, "failed": [], "chunks_embedded": 0}
    assert report["seconds"] >= 0
    (folder / "cache.py").write_bytes(b"\x00binary")
    assert main(["sync", str(folder), "--kb", str(tmp_path / "kb"), "--no-dense", "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out.strip().splitlines()[-1])
    assert report["failed"] == [{"path": str(folder / "cache.py"), "reason": "binary, not python source; "
                                                                              "remove it or rename it"}]
    assert f"skipped {folder / 'cache.py'}" in captured.err


def test_a_sync_that_finds_nothing_creates_no_base(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["sync", str(tmp_path / "empty"), "--kb", str(tmp_path / "kb"), "--no-dense"]) == 2
    assert "nothing to index" in capsys.readouterr().err and not (tmp_path / "kb").exists()


def _spawn(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAG_PLUGINS_PROGRESS": "0", "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, *args], cwd=REPO, env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=default_sigint)


@pytest.mark.slow
def test_watch_syncs_on_change_and_ctrl_c_stops_it(folder, tmp_path):
    watcher = _spawn("-m", "rag_plugins.cli", "sync", str(folder), "--kb", str(tmp_path / "kb"), "--no-dense",
                     "--json", "--watch", "0.2")
    try:
        reports = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = watcher.stdout.readline()
            if line.startswith("{"):
                reports.append(json.loads(line))
                if len(reports) == 1:
                    (folder / "notes.md").write_text("# Notes\n\nShipping moved to June.\n")
                if reports[-1]["updated"] == 1:
                    break
        assert reports[0]["added"] == 4 and reports[-1]["updated"] == 1
    finally:
        watcher.send_signal(signal.SIGINT)
        _, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 130 and "Traceback" not in err


@pytest.mark.slow
def test_a_sync_killed_halfway_leaves_the_last_generation_and_the_next_run_finishes(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(60):
        (folder / f"page{i:02d}.md").write_text(f"# Page {i}\n\nLedger entry number {i}.\n")
    kb_path = tmp_path / "kb"
    (folder / "page00.md").rename(tmp_path / "page00.md")  # the first sync sees 59 files
    with KnowledgeBase.open(kb_path, show_progress=False) as kb:
        assert len(kb.sync([folder]).added) == 59
    (tmp_path / "page00.md").rename(folder / "page00.md")
    for i in range(1, 60):
        (folder / f"page{i:02d}.md").write_text(f"# Page {i}\n\nLedger entry number {i}, revised.\n")
    worker = _spawn(str(Path(__file__).with_name("sync_worker.py")), str(folder), str(kb_path))
    for line in worker.stdout:
        if line.startswith("loading 20"):
            break
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    with KnowledgeBase.open(kb_path, show_progress=False) as kb:  # as it was: generation 1, 59 pages
        assert kb.generation == 1 and len(kb) == 59
        assert "revised" not in kb.get((folder / "page05.md").as_posix()).text
        report = kb.sync([folder])
        assert (len(report.added), len(report.updated), report.generation) == (1, 59, 2)
        assert "revised" in kb.get((folder / "page05.md").as_posix()).text


def test_cli_query_shows_where_and_how_fresh(folder, tmp_path, capsys):
    main(["sync", str(folder), "--kb", str(tmp_path / "kb"), "--no-dense"])
    capsys.readouterr()
    assert main(["query", str(tmp_path / "kb"), "signing keys rotate", "--retriever", "bm25", "--k", "1"]) == 0
    out = capsys.readouterr().out
    assert "#misc · last changed just now (version 1)" in out
    assert main(["query", str(tmp_path / "kb"), "entries key value", "--retriever", "bm25", "--k", "1",
                 "--json"]) == 0
    [hit] = json.loads(capsys.readouterr().out)
    assert hit["document"]["version"] == 1 and hit["document"]["source"] == (folder / "cache.py").as_posix()
    assert hit["document"]["first_indexed"] == hit["document"]["last_changed"]


def test_sync_documents_mirrors_one_source_of_documents(tmp_path):
    from rag_plugins import Document

    kb = KnowledgeBase.open(tmp_path / "kb", show_progress=False)
    kb.upsert([Document("mine", "added by hand")])
    kb.commit()
    pages = [Document("wiki/a", "Alpha page."), Document("wiki/b", "Beta page.")]
    first = kb.sync_documents(pages, source="wiki")
    assert (first.added, first.generation) == (["wiki/a", "wiki/b"], 2)
    second = kb.sync_documents([Document("wiki/a", "Alpha page, edited."), Document("wiki/c", "Gamma.")], "wiki")
    assert (second.added, second.updated, second.removed) == (["wiki/c"], ["wiki/a"], ["wiki/b"])
    assert sorted(kb.document_ids()) == ["mine", "wiki/a", "wiki/c"]  # another source's documents untouched
    assert kb.sync_documents([], "wiki", prune=False).removed == [] and len(kb) == 3
    with pytest.raises(InvalidInputError, match="source names where the documents came from"):
        kb.sync_documents(pages, source="")


def test_load_sources_reports_and_goes_on(folder):
    from rag_plugins.loaders import load_sources

    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    skipped = []
    docs = list(load_sources([folder], exclude=["*.py"], skipped=skipped))
    assert sorted(Path(d.id).name for d in docs) == ["deploy.html", "notes.md", "todo.md"]
    assert [(s.path.name, s.kind) for s in skipped] == [("broken.pdf", "unreadable")]


@pytest.mark.slow
def test_watch_stops_cleanly_on_sigterm(folder, tmp_path):
    watcher = _spawn("-m", "rag_plugins.cli", "sync", str(folder), "--kb", str(tmp_path / "kb"), "--no-dense",
                     "--json", "--watch", "0.2")
    try:
        first = watcher.stdout.readline()
        while not first.startswith("{"):
            first = watcher.stdout.readline()
        assert json.loads(first)["added"] == 4
    finally:
        watcher.send_signal(signal.SIGTERM)
        _, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 143 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("rag-plugins: terminated;")
