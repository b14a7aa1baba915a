"""A folder of real documents of every format, with broken ones among them: the good ones
are indexed with their locators, each bad one is reported with its path and reason."""

from __future__ import annotations

import pytest

from rag_plugins import KnowledgeBase
from rag_plugins.cli import main
from rag_plugins.loaders import load_documents
from tests.ingest.documents import HTML_PAGE, PYTHON_MODULE, image_only_pdf, manual_pdf, slack_export, word_document


@pytest.fixture()
def folder(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    manual_pdf(root / "manual.pdf")
    image_only_pdf(root / "mixed.pdf", text_on_first=True)
    (root / "deploy.html").write_text(HTML_PAGE)
    word_document(root / "onboarding.docx")
    (root / "cache.py").write_text(PYTHON_MODULE)
    slack_export(root / "slack")
    (root / "notes.md").write_text("# Notes\n\nThe widget ships in May.\n")
    data = (root / "manual.pdf").read_bytes()
    (root / "truncated.pdf").write_bytes(data[: len(data) // 3])
    (root / "locked.pdf").write_bytes(manual_pdf(tmp_path / "locked.pdf", encrypt="pw").read_bytes())
    (root / "fake.docx").write_bytes(b"not a zip")
    (root / "latin1.txt").write_bytes("café".encode("latin-1"))
    return root


def test_every_format_loads_and_every_bad_file_is_reported(folder):
    skipped = []
    docs = list(load_documents([folder], skipped=skipped))
    assert sorted({d.metadata["format"] for d in docs}) == ["chat", "code", "docx", "html", "markdown", "pdf"]
    assert len([d for d in docs if d.metadata["format"] == "chat"]) == 2  # two threads
    reasons = {s.path.name: (s.kind, s.reason) for s in skipped}
    assert sorted(reasons) == ["fake.docx", "latin1.txt", "locked.pdf", "mixed.pdf", "truncated.pdf"]
    assert reasons["mixed.pdf"][0] == "partial" and "page(s) 2 have no text layer" in reasons["mixed.pdf"][1]
    assert all(kind == "unreadable" for name, (kind, _) in reasons.items() if name != "mixed.pdf")
    assert "encrypted" in reasons["locked.pdf"][1] and "not valid UTF-8" in reasons["latin1.txt"][1]


def test_cli_index_reports_and_the_base_serves_locators(folder, tmp_path, capsys):
    assert main(["index", str(folder), "--kb", str(tmp_path / "kb"), "--no-dense"]) == 0
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert sum(line.startswith("skipped ") for line in lines) == 4 and sum(line.startswith("note ") for line in lines) == 1
    assert "Traceback" not in captured.err and "4 path(s) skipped" in captured.out
    kb = KnowledgeBase.open(tmp_path / "kb")
    [hit] = kb.bm25_retriever().retrieve("restart the widget config", k=1)
    assert (hit.chunk.metadata["page_start"], hit.chunk.heading_path) == (2, ["Configuring"])
    [hit] = kb.bm25_retriever().retrieve("signing keys rotate 90 days", k=1, filters={"format": "html"})
    assert hit.chunk.metadata["anchor"] == "misc"
    [hit] = kb.bm25_retriever().retrieve("entries key value", k=1, filters={"format": "code"})
    assert (hit.chunk.heading_path, hit.chunk.metadata["line_start"], hit.chunk.metadata["line_end"]) == (
        ["class Cache"], 5, 14)  # the whole class fits the base's chunk size
    [hit] = kb.bm25_retriever().retrieve("restart the signer", k=1, filters={"format": "chat"})
    assert "rotate the signing keys" in hit.chunk.text
