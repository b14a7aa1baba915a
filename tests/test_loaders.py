"""Issue 15.7: a folder walk does not follow symlinks out of the folder unless asked, and
says what it skipped."""

import os

import pytest

from rag_plugins import KnowledgeBase
from rag_plugins.cli import main
from rag_plugins.loaders import iter_files, load_documents


@pytest.fixture
def tree(tmp_path):
    """docs/ with one real file and links out of it (file and folder, relative and
    absolute), a link inside it, a loop, and a broken link."""
    outside = tmp_path / "outside"
    (outside / "private").mkdir(parents=True)
    (outside / "secret.md").write_text("the launch code is 0000")
    (outside / "private" / "key.txt").write_text("private key material")
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "a.md").write_text("# Alpha\n\nA real document.")
    (docs / "sub" / "b.txt").write_text("Another real document.")
    os.symlink("../outside/secret.md", docs / "rel_secret.md")
    os.symlink(outside / "secret.md", docs / "abs_secret.md")
    os.symlink("../outside/private", docs / "rel_private")
    os.symlink(outside / "private", docs / "abs_private")
    os.symlink("sub/b.txt", docs / "alias.txt")  # inside: the same file, loaded once
    os.symlink(".", docs / "sub" / "loop")  # inside, but a loop
    os.symlink("missing.md", docs / "broken.md")
    return docs


OUTSIDE_LINKS = {"rel_secret.md", "abs_secret.md", "rel_private", "abs_private"}


def test_links_out_of_the_folder_are_skipped_and_reported(tree):
    skipped = []
    files = list(iter_files([tree], skipped=skipped))
    assert [f.relative_to(tree).as_posix() for f in files] == ["a.md", "sub/b.txt"]
    reasons = {s.path.name: s.reason for s in skipped}
    assert OUTSIDE_LINKS <= set(reasons)
    assert all("outside" in reasons[n] and "--follow-symlinks" in reasons[n] for n in OUTSIDE_LINKS)
    assert "same file as" in reasons["alias.txt"] and "broken" in reasons["broken.md"]
    assert "already indexed" in reasons["loop"]


def test_follow_symlinks_includes_them_once(tree):
    skipped = []
    texts = {d.id.removeprefix(tree.as_posix() + "/"): d.text
             for d in load_documents([tree], follow_symlinks=True, skipped=skipped)}
    assert set(texts) == {"a.md", "sub/b.txt", "abs_private/key.txt", "abs_secret.md"}
    assert texts["abs_secret.md"] == "the launch code is 0000"
    assert {s.path.name for s in skipped} == {"alias.txt", "rel_secret.md", "rel_private", "loop", "broken.md"}


def test_without_a_list_the_skips_are_logged(tree, caplog):
    assert len(list(iter_files([tree]))) == 2
    assert "rel_secret.md" in caplog.text and "outside" in caplog.text


def test_a_path_named_directly_is_read(tree):
    assert [d.text for d in load_documents([tree / "rel_secret.md"])] == ["the launch code is 0000"]


def test_cli_index_skips_and_says_so(tree, tmp_path, capsys):
    kb = tmp_path / "kb"
    assert main(["index", str(tree), "--kb", str(kb), "--no-dense"]) == 0
    out, err = capsys.readouterr()
    assert "2 added" in out
    assert all(f"{name}: symlink to" in err for name in OUTSIDE_LINKS) and "--follow-symlinks" in err
    with KnowledgeBase.open(kb) as base:
        assert sorted(base.document_ids()) == [(tree / "a.md").as_posix(), (tree / "sub" / "b.txt").as_posix()]
    assert main(["index", str(tree), "--kb", str(kb), "--no-dense", "--follow-symlinks"]) == 0
    assert "2 added" in capsys.readouterr().out  # abs_secret.md and abs_private/key.txt
    with KnowledgeBase.open(kb) as base:
        assert base.bm25_retriever().retrieve("launch code", k=1)[0].chunk.text == "the launch code is 0000"
