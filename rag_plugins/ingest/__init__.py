"""Loaders for real documents, one module per format, each through a well-kept library.

:data:`FORMATS` maps a file suffix to its format; :func:`load_path` reads one file (or a
Slack export folder) into documents whose text the chunker reads as Markdown, with the
locators of their format (PDF pages, code lines, HTML anchors). Text, Markdown and JSONL
need nothing extra; PDF (pypdf), HTML (BeautifulSoup + lxml), Word (python-docx) and code
(tree-sitter grammars) come with ``pip install "rag-plugins[ingest]"``.
"""

from __future__ import annotations

from pathlib import Path

from rag_plugins.code_chunking import LANGUAGES, parser_for
from rag_plugins.errors import InvalidDocumentError
from rag_plugins.ingest.chat import is_chat_jsonl, is_slack_export, load_chat_jsonl, load_slack_export
from rag_plugins.ingest.text import decode, json_line, load_jsonl, load_text
from rag_plugins.types import Document

FORMATS = {".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown", ".jsonl": "jsonl",
           ".pdf": "pdf", ".html": "html", ".htm": "html", ".xhtml": "html", ".docx": "docx",
           **{suffix: "code" for suffix in LANGUAGES}}
"""File suffix → format. A folder holding a Slack export (or its ``.zip``) is read as one source."""


def load_path(path: Path, with_source: bool = True) -> list[Document]:
    """The documents in one file (or Slack export), or a typed error naming the file and the fix."""
    if path.is_dir() or path.suffix.lower() == ".zip":
        if is_slack_export(path):
            return load_slack_export(path)
        raise InvalidDocumentError(f"{path} is not a Slack export (no channels.json and users.json at its top)")
    fmt = FORMATS.get(path.suffix.lower())
    if fmt in ("text", "markdown"):
        return load_text(path, fmt)
    if fmt == "jsonl":
        return _jsonl(path, with_source)
    if fmt == "pdf":
        from rag_plugins.ingest.pdf import load_pdf

        return load_pdf(path)
    if fmt == "html":
        from rag_plugins.ingest.html import load_html

        return load_html(path)
    if fmt == "docx":
        from rag_plugins.ingest.docx import load_docx

        return load_docx(path)
    if fmt == "code":
        return [_code(path)]
    raise InvalidDocumentError(f"{path}: unsupported file type; use one of {sorted(FORMATS)}")


def _jsonl(path: Path, with_source: bool) -> list[Document]:
    with open(path, "rb") as fh:
        first = next((line for line in fh if line.strip()), b"")
    if first and is_chat_jsonl(json_line(decode(first, str(path)), path, 1)):
        return load_chat_jsonl(path)
    return list(load_jsonl(path, with_source))


def _code(path: Path) -> Document:
    language = LANGUAGES[path.suffix.lower()]
    text = decode(path.read_bytes(), str(path))
    if "\x00" in text:
        raise InvalidDocumentError(f"{path} is binary, not {language} source; remove it or rename it")
    parser_for(language)  # a missing grammar is reported now, not at commit
    return Document(path.as_posix(), text, {"source": path.as_posix(), "format": "code", "language": language,
                                            "title": path.name})


__all__ = ["FORMATS", "load_path"]
