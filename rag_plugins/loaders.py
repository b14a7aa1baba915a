"""Load documents from files and folders: plain text, Markdown, and JSONL (one per line)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator

from rag_plugins.errors import InvalidInputError
from rag_plugins.types import Document

FORMATS = {".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown", ".jsonl": "jsonl"}


def iter_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Supported files under each path (folders walked in sorted order, hidden files skipped)."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                rel = file.relative_to(path).parts
                if file.is_file() and file.suffix.lower() in FORMATS and not any(p.startswith(".") for p in rel):
                    yield file
        elif path.is_file():
            if path.suffix.lower() not in FORMATS:
                raise InvalidInputError(f"{path}: unsupported file type; use one of {sorted(FORMATS)}")
            yield path
        else:
            raise InvalidInputError(f"{path} does not exist")


def load_file(path: Path, with_source: bool = True) -> Iterator[Document]:
    """Text and Markdown files are one document each, with the path as id; JSONL gives
    one document per line with its ``_id``/``id``, ``text``, optional ``title`` and ``metadata``."""
    fmt = FORMATS[path.suffix.lower()]
    if fmt != "jsonl":
        text = path.read_text(encoding="utf-8")
        yield Document(path.as_posix(), text, {"source": path.as_posix(), "format": fmt})
        return
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise InvalidInputError(f"{path}:{line_no}: invalid JSON ({exc})") from exc
            if not isinstance(row, dict) or "text" not in row:
                raise InvalidInputError(f"{path}:{line_no}: each line needs a 'text' field")
            doc_id = row.get("_id", row.get("id"))
            metadata = dict(row.get("metadata") or {})
            if row.get("title"):
                metadata["title"] = row["title"]
            if with_source:
                metadata.setdefault("source", path.as_posix())
            yield Document(str(doc_id) if doc_id is not None else f"{path.as_posix()}:{line_no}",
                           row["text"], metadata)


def load_documents(paths: Iterable[str | Path]) -> Iterator[Document]:
    for file in iter_files(paths):
        yield from load_file(file)
