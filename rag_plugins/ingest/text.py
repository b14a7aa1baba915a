"""Plain text, Markdown and JSONL (one document per line): read as they are."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from rag_plugins.errors import InvalidDocumentError, InvalidInputError
from rag_plugins.types import Document


def load_text(path: Path, fmt: str) -> list[Document]:
    """A ``.txt`` or ``.md`` file: one document, the path as id."""
    return [Document(path.as_posix(), decode(path.read_bytes(), str(path)), {"source": path.as_posix(), "format": fmt})]


def load_jsonl(path: Path, with_source: bool = True) -> Iterator[Document]:
    """One document per line with its ``_id``/``id``, ``text``, optional ``title`` and ``metadata``."""
    for line_no, row in json_rows(path):
        if "text" not in row:
            raise InvalidInputError(f"{path}:{line_no}: each line needs a 'text' field")
        doc_id = row.get("_id", row.get("id"))
        metadata = dict(row.get("metadata") or {})
        if row.get("title"):
            metadata["title"] = row["title"]
        if with_source:
            metadata.setdefault("source", path.as_posix())
        yield Document(str(doc_id) if doc_id is not None else f"{path.as_posix()}:{line_no}",
                       row["text"], metadata)


def json_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` of every non-blank line of a JSONL file, each checked."""
    with open(path, "rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            line = decode(raw, f"{path}:{line_no}")
            if line.strip():
                yield line_no, json_line(line, path, line_no)


def json_line(line: str, path: Path, line_no: int) -> dict:
    try:
        row = json.loads(line)
    except ValueError as exc:
        raise InvalidInputError(f"{path}:{line_no}: invalid JSON ({exc})") from exc
    if not isinstance(row, dict):
        raise InvalidInputError(f"{path}:{line_no}: each line must be a JSON object")
    return row


def decode(data: bytes, where: str) -> str:
    """UTF-8 text, or a typed error naming ``where`` and the fix."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidDocumentError(
            f"{where} is not valid UTF-8 (byte {exc.start}: {exc.reason}); convert the file to UTF-8 "
            "(e.g. iconv -f latin1 -t utf-8) and load it again"
        ) from None
