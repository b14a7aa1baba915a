"""Each format's loader on a real file written by its writing library: the text the chunker
reads, the heading paths, the locators (pages, anchors, lines) and the chunk boundaries."""

from __future__ import annotations

import pytest

from rag_plugins.chunking import StructureAwareChunker
from rag_plugins.errors import InvalidDocumentError
from rag_plugins.ingest import load_path
from tests.ingest.documents import HTML_PAGE, image_only_pdf, manual_pdf, slack_export, word_document, zipped

CHUNKER = StructureAwareChunker(64)


def chunks_of(path, **locators):
    [document] = load_path(path)
    return document, [(c.heading_path, *(c.metadata.get(k) for k in locators), c.text) for c in CHUNKER.split(document)]


@pytest.mark.parametrize("outline", [True, False], ids=["outline", "font sizes"])
def test_pdf_headings_pages_and_running_lines(tmp_path, outline):
    document, chunks = chunks_of(manual_pdf(tmp_path / "manual.pdf", outline=outline), page_start=1, page_end=1)
    assert document.metadata == {"source": (tmp_path / "manual.pdf").as_posix(), "format": "pdf", "pages": 3,
                                 "title": "Widget Manual"}
    assert "Confidential" not in document.text and "Page 2" not in document.text  # running header and footer
    assert document.text.count("\f") == 2
    assert chunks == [
        (["Installing"], 1, 1, "Run the installer and accept the licence. Run the installer and accept the licence. "
                               "Run the installer\nand accept the licence."),
        (["Installing", "Requirements"], 1, 1, "You need 4 GB of memory.\n Part\nCount\nbolt\n12"),
        (["Configuring"], 2, 2, "Edit the config file and restart the widget."),
        (["Troubleshooting"], 3, 3, "\\# of retries is three."),  # a '#' line stays text
    ]


def test_a_chunk_over_a_page_break_names_both_pages(tmp_path):
    [document] = load_path(manual_pdf(tmp_path / "manual.pdf"))
    [chunk] = StructureAwareChunker(500, markdown=False).split(document)  # no headings: one chunk, all pages
    assert (chunk.metadata["page_start"], chunk.metadata["page_end"]) == (1, 3)


def test_scanned_pages_are_reported_not_silently_empty(tmp_path):
    [document] = load_path(image_only_pdf(tmp_path / "mixed.pdf", text_on_first=True))
    assert document.metadata["pages_without_text"] == [2]
    assert "title" not in document.metadata  # reportlab's "untitled" is no title
    with pytest.raises(InvalidDocumentError, match="no text layer on any of its 1 page.*OCR"):
        load_path(image_only_pdf(tmp_path / "scan.pdf", text_on_first=False))


def test_encrypted_and_truncated_pdfs_are_typed_errors(tmp_path):
    with pytest.raises(InvalidDocumentError, match="encrypted; decrypt it"):
        load_path(manual_pdf(tmp_path / "locked.pdf", encrypt="secret"))
    data = manual_pdf(tmp_path / "whole.pdf").read_bytes()
    (tmp_path / "cut.pdf").write_bytes(data[: len(data) // 3])
    with pytest.raises(InvalidDocumentError, match="cut.pdf is not a readable PDF"):
        load_path(tmp_path / "cut.pdf")


def test_html_main_content_headings_anchors_tables_and_code(tmp_path):
    (tmp_path / "deploy.html").write_text(HTML_PAGE)
    document, chunks = chunks_of(tmp_path / "deploy.html", anchor=1)
    assert document.metadata == {"source": (tmp_path / "deploy.html").as_posix(), "format": "html",
                                 "title": "Deploy guide", "url": "https://docs.example.com/deploy.html"}
    for boilerplate in ("Home", "About", "Copyright", "tracking", "¶"):
        assert boilerplate not in document.text
    assert chunks == [
        (["Deploying"], "deploying", "Deploys run from main every night."),
        (["Deploying", "Rolling back"], "rollback",
         "Run the rollback script:\n\n```\n./rollback.sh --to previous\necho done\n```\n\n"
         "| Env | Window |\n|---|---|\n| prod | 02:00 |"),
        (["Deploying", "Miscellaneous"], "misc", "- Signing keys rotate every 90 days.\n- Ask #infra for access."),
        (["Deploying", "Miscellaneous", "deploy.run(target)"], "deploy.run", "Deploy to target."),
    ]


def test_binary_with_an_html_extension_is_refused(tmp_path):
    (tmp_path / "x.html").write_bytes(b"\x00\x01binary")
    with pytest.raises(InvalidDocumentError, match="binary, not HTML"):
        load_path(tmp_path / "x.html")


def test_word_headings_lists_and_tables(tmp_path):
    document, chunks = chunks_of(word_document(tmp_path / "onboarding.docx"))
    assert document.metadata["title"] == "Onboarding" and document.metadata["format"] == "docx"
    assert chunks == [
        (["Onboarding"], "Welcome to the team."),
        (["Accounts"], "- Ask IT for a laptop.\n- Enable two-factor login."),
        (["Accounts", "Holidays"], "| Days | Region |\n|---|---|\n| 25 | EU |\n\nBook holidays two weeks ahead."),
    ]


def test_a_corrupt_docx_is_a_typed_error(tmp_path):
    (tmp_path / "bad.docx").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InvalidDocumentError, match="bad.docx is not a readable .docx"):
        load_path(tmp_path / "bad.docx")


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_a_slack_export_is_one_document_per_thread(tmp_path, as_zip):
    export = slack_export(tmp_path / "slack")
    source = zipped(export, tmp_path / "slack.zip") if as_zip else export
    thread, alone = load_path(source)
    assert thread.id == f"{source.as_posix()}/infra/1714550400.000100"
    assert thread.text == (
        "Ana (2024-05-01 08:00): How do I rotate the signing keys?\n\n"
        "Bo (2024-05-01 08:01): First run the key tool (https://keys.example.com).\n\n"
        "Bo (2024-05-02 08:00): Then restart the signer.\n\n"
        "Bo (2024-05-02 08:01): Finally tell @Ana it is done.\n")
    assert {k: thread.metadata[k] for k in ("channel", "authors", "messages", "started", "last_message")} == {
        "channel": "infra", "authors": ["Ana", "Bo"], "messages": 4, "started": "2024-05-01T08:00:00Z",
        "last_message": "2024-05-02T08:01:00Z"}
    [chunk] = CHUNKER.split(thread)  # the answer, over three replies and two days, in one chunk
    assert "restart the signer" in chunk.text and "rotate the signing keys" in chunk.text
    assert alone.text == "Ana (2024-05-01 08:26): Lunch at noon?\n"


def test_generic_chat_jsonl_groups_threads_in_time_order(tmp_path):
    lines = ['{"thread": "t1", "author": "Ana", "ts": "2024-05-01T09:00:00Z", "text": "Where is the VPN config?"}',
             '{"thread": "t2", "author": "Cy", "ts": 1714554000, "text": "Standup moved."}',
             '{"thread": "t1", "author": "Bo", "ts": "2024-05-01T09:05:00Z", "text": "In the wiki, under VPN."}']
    (tmp_path / "chat.jsonl").write_text("\n".join([lines[2], lines[0], lines[1]]) + "\n")
    first, second = load_path(tmp_path / "chat.jsonl")
    assert first.id.endswith("chat.jsonl#t1") and first.metadata["authors"] == ["Ana", "Bo"]
    assert first.text == ("Ana (2024-05-01 09:00): Where is the VPN config?\n\n"
                          "Bo (2024-05-01 09:05): In the wiki, under VPN.\n")
    assert second.metadata["messages"] == 1
    (tmp_path / "bad.jsonl").write_text('{"thread": "t", "author": "A", "ts": "yesterday", "text": "x"}\n')
    with pytest.raises(InvalidDocumentError, match="'ts' must be epoch seconds or an ISO 8601 time"):
        load_path(tmp_path / "bad.jsonl")
