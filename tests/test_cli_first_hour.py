"""Issue 16, the first hour: every CLI error is one line with the fix and exit 2, a file
that cannot be read is skipped and reported, Ctrl-C is one line and exit 130."""

import logging

import pytest

import rag_plugins
from rag_plugins import KnowledgeBase
from rag_plugins.cli import build_parser, main
from tests.conftest import CountingEmbedder


def _subparser(name):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices[name]


def _help(name, flag):
    return next(a.help for a in _subparser(name)._actions if flag in a.option_strings)


def _one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rag-plugins: ") and "Traceback" not in err, err
    return lines[0]


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"rag-plugins {rag_plugins.__version__}"


@pytest.mark.parametrize("command", ["query", "eval"])
@pytest.mark.parametrize("flag", ["--k", "--retriever", "--fusion"])
def test_search_flags_have_help(command, flag):
    assert _help(command, flag)


def test_serve_mcp_router_help_does_not_name_a_flag_it_lacks():
    for flag in ("--router", "--fuse-below"):
        assert "--retriever" not in _help("serve-mcp", flag)


@pytest.fixture
def docs(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.md").write_text("# Good\n\nBananas are yellow.")
    (folder / "notes.txt").write_text("Apples are red.")
    (folder / "latin1.txt").write_bytes("Café crème".encode("latin-1"))
    (folder / "rows.jsonl").write_bytes(b'{"id": "r1", "text": "fine"}\n{"id": "r2", "text": "caf\xe9"}\n')
    (folder / "figure.png").write_bytes(b"\x89PNG")
    return folder


def test_a_bad_file_is_skipped_and_the_rest_indexed(docs, tmp_path, capsys):
    kb = tmp_path / "kb"
    assert main(["index", str(docs), "--kb", str(kb), "--no-dense"]) == 0
    out, err = capsys.readouterr()
    assert "2 added" in out and "3 path(s) skipped" in out
    assert f"skipped {docs / 'latin1.txt'}: not valid UTF-8" in err and "iconv" in err
    assert f"skipped {docs / 'rows.jsonl'}: line 2 is not valid UTF-8" in err
    assert "1 file(s) of unsupported type (1 .png)" in err and "Traceback" not in err
    with KnowledgeBase.open(kb) as base:
        assert sorted(base.document_ids()) == [(docs / "good.md").as_posix(), (docs / "notes.txt").as_posix()]


def test_a_bad_file_named_alone_is_refused_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.md"
    bad.write_bytes(b"caf\xe9")
    assert main(["index", str(bad), "--kb", str(tmp_path / "kb"), "--no-dense"]) == 2
    err = capsys.readouterr().err
    assert "not valid UTF-8" in err
    assert "every file was skipped (1 unreadable)" in _one_line(err.splitlines()[-1])
    assert not (tmp_path / "kb").exists()


@pytest.mark.parametrize("content", [{}, {"a.xlsx": b"PK\x03\x04", "b.png": b"\x89PNG"}])
def test_a_folder_with_nothing_to_index_says_so(tmp_path, capsys, content):
    folder = tmp_path / "folder"
    folder.mkdir()
    for name, data in content.items():
        (folder / name).write_bytes(data)
    assert main(["index", str(folder), "--kb", str(tmp_path / "kb"), "--no-dense"]) == 2
    last = _one_line(capsys.readouterr().err.splitlines()[-1])
    assert "nothing to index" in last and ".md" in last
    assert ("no files found" if not content else "2 of unsupported type") in last
    assert not (tmp_path / "kb").exists()


def test_a_missing_path_creates_no_base(docs, tmp_path, capsys):
    kb = tmp_path / "kb"
    assert main(["index", str(docs), str(tmp_path / "missing"), "--kb", str(kb), "--no-dense"]) == 2
    assert "missing does not exist" in _one_line(capsys.readouterr().err)
    assert not (kb / "kb.sqlite").exists()


def test_a_filter_that_is_not_json_is_one_line(docs, tmp_path, capsys):
    kb = tmp_path / "kb"
    assert main(["index", str(docs), "--kb", str(kb), "--no-dense"]) == 0
    capsys.readouterr()
    assert main(["query", str(kb), "bananas", "--retriever", "bm25", "--filter", "{lang: en}"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "--filter is not valid JSON" in line and '\'{"lang": "en"}\'' in line


def test_ctrl_c_is_one_line_and_exit_130(docs, tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("rag_plugins.cli.sync.load_source", interrupted)
    assert main(["index", str(docs), "--kb", str(tmp_path / "kb"), "--no-dense"]) == 130
    assert "interrupted" in _one_line(capsys.readouterr().err)


def test_faiss_loader_info_is_quiet_under_the_cli(docs, tmp_path):
    main(["index", str(docs), "--kb", str(tmp_path / "kb"), "--no-dense"])
    assert logging.getLogger("faiss.loader").getEffectiveLevel() >= logging.WARNING


def test_without_the_model_package_index_suggests_no_dense(docs, tmp_path, capsys, monkeypatch):
    from rag_plugins.errors import MissingDependencyError

    def missing(*args, **kwargs):
        raise MissingDependencyError("Dense embeddings needs the 'sentence-transformers' package")

    monkeypatch.setattr("rag_plugins.cli.sync.open_kb", missing)
    assert main(["index", str(docs), "--kb", str(tmp_path / "kb")]) == 2
    assert "--no-dense" in _one_line(capsys.readouterr().err.splitlines()[-1])


class InterruptedEmbedder(CountingEmbedder):
    """Stops (as Ctrl-C would) on its second batch."""

    def embed_documents(self, texts):
        if self.document_calls:
            raise KeyboardInterrupt
        return super().embed_documents(texts)


def test_a_rerun_after_an_interrupt_embeds_only_what_was_left(tmp_path, embedder):
    from rag_plugins.types import Document

    docs = [Document(f"d{i}", f"note {i}: the value of item {i} is {i * 7}.") for i in range(300)]
    interrupted = InterruptedEmbedder(embedder)
    with KnowledgeBase.open(tmp_path / "kb", embedder=interrupted) as kb:
        kb.upsert(docs)
        with pytest.raises(KeyboardInterrupt):
            kb.commit()
    assert len(interrupted.embedded_texts) == 256  # the first slice, then the interrupt
    again = CountingEmbedder(embedder)
    with KnowledgeBase.open(tmp_path / "kb", embedder=again) as kb:
        kb.upsert(docs)
        commit = kb.commit()
    assert commit.chunks_added == 300 and commit.chunks_embedded == 300 - 256
    assert len(again.embedded_texts) == 300 - 256


def test_measuring_a_long_text_does_not_warn_about_truncation(embedder, capfd, caplog):
    n = embedder.count_tokens("retrieval " * 600)  # longer than the model's 256-token window, on purpose
    assert n >= 600
    captured = capfd.readouterr()
    assert "Token indices sequence length" not in captured.err + captured.out + caplog.text


def test_the_demo_removes_its_temporary_base(tmp_path, minilm_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "RAG_PLUGINS_EMBEDDING_MODEL": minilm_path, "HF_HUB_OFFLINE": "1", "TMPDIR": str(temp)}
    out = subprocess.run([sys.executable, "examples/demo.py", "--limit", "5"], cwd=Path(__file__).resolve().parents[1],
                         env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    assert not list(temp.glob("rag-plugins-demo-*")) and "pass --kb DIR to keep it" in out.stdout


@pytest.mark.parametrize("argv, message", [
    (["index"], "rag-plugins index: error: the following arguments are required: paths, --kb"),
    (["query", "kb", "x", "--k", "many"], "rag-plugins query: error: argument --k: invalid int value: 'many'"),
    (["serach"], "rag-plugins: error: argument command: invalid choice: 'serach'"),
])
def test_a_usage_error_is_one_line_that_points_at_help(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(message) and "--help)" in err and "usage:" not in err, err


def test_hybrid_search_defaults_to_the_fusion_chosen_on_training_data(tmp_path):
    for command in (["query", "kb", "x"], ["eval", "data", "--run-file", "r", "--output", "o"],
                    ["calibrate", "data", "--output", "o"], ["train-reranker", "data", "--base", "b", "--output", "o"]):
        assert build_parser().parse_args(command).fusion == "zscore"
    kb = KnowledgeBase.open(tmp_path / "kb")
    for hybrid in (kb.hybrid_retriever(), kb.retriever("hybrid"), kb.retriever("graph+hybrid").first_stage):
        assert (hybrid.method, hybrid.weights) == ("zscore", {"bm25": 2.0, "dense": 1.0})
    assert kb.hybrid_retriever(method="rrf").weights == {"bm25": 1.0, "dense": 1.0}
