"""Load documents from files and folders: plain text, Markdown, and JSONL (one per line).

Folders are walked without leaving them: a symlink whose target lies outside the folder
is skipped (and reported) unless ``follow_symlinks=True``, so ``index docs/`` never
serves ``/etc/hostname`` through ``docs/notes.md -> /etc/hostname``. A file reached twice
(through a link inside the folder) is loaded once, under its own path when it has one.
Given a ``skipped`` list, a walk also reports the files it cannot load (an unsupported
type, bytes that are not UTF-8, a bad JSONL line) there and goes on with the rest.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from rag_plugins.errors import InvalidDocumentError, InvalidInputError
from rag_plugins.types import Document

FORMATS = {".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown", ".jsonl": "jsonl"}

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SkippedPath:
    """A path a folder walk left out, and why; ``kind`` is ``"link"`` (a symlink not
    followed), ``"unsupported"`` (a file type no loader reads) or ``"unreadable"``."""

    path: Path
    reason: str
    kind: str = "link"

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


Report = Callable[[SkippedPath], None]


def iter_files(paths: Iterable[str | Path], *, follow_symlinks: bool = False,
               skipped: list[SkippedPath] | None = None) -> Iterator[Path]:
    """Supported files under each path (folders walked in sorted order, hidden files skipped).

    Symlinks inside a folder are followed only while their target stays inside it, unless
    ``follow_symlinks``; every symlink left out is appended to ``skipped`` (or logged as a
    warning when no list is given), and so is every file of an unsupported type (only when
    a list is given). A path named directly is always read.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "docs").mkdir(); _ = (root / "docs" / "a.md").write_text("# A")
    >>> _ = (root / "secret.md").write_text("secret")
    >>> (root / "docs" / "b.md").symlink_to(root / "secret.md")
    >>> left_out = []
    >>> [f.name for f in iter_files([root / "docs"], skipped=left_out)], [s.path.name for s in left_out]
    (['a.md'], ['b.md'])
    """
    report = skipped.append if skipped is not None else _log_skip
    unsupported = skipped.append if skipped is not None else None
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from _walk(path, follow_symlinks, report, unsupported)
        elif path.is_file():
            if path.suffix.lower() not in FORMATS:
                raise InvalidInputError(f"{path}: unsupported file type; use one of {sorted(FORMATS)}")
            yield path
        else:
            raise InvalidInputError(f"{path} does not exist; check the path")


def _log_skip(skip: SkippedPath) -> None:
    logger.warning("skipped %s", skip)


def _walk(root: Path, follow_symlinks: bool, report: Report, unsupported: Report | None) -> Iterator[Path]:
    root_real = Path(os.path.realpath(root))
    found: list[tuple[Path, str, bool]] = []  # (path, real path, reached through a symlink)
    links: list[Path] = []
    walked: set[str] = set()

    def scan(top: Path, via_link: bool) -> None:
        for dirpath, dirnames, filenames in os.walk(top):
            walked.add(os.path.realpath(dirpath))
            here = Path(dirpath)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in list(dirnames):
                if (here / name).is_symlink():
                    links.append(here / name)
                    dirnames.remove(name)
            for name in sorted(f for f in filenames if not f.startswith(".")):
                file = here / name
                if file.is_symlink():
                    links.append(file)
                elif file.suffix.lower() in FORMATS:
                    found.append((file, os.path.realpath(file), via_link))
                elif unsupported is not None:
                    unsupported(SkippedPath(file, f"unsupported file type {file.suffix or '(no extension)'}",
                                            "unsupported"))

    scan(root, False)
    while links:
        link = links.pop(0)
        target = Path(os.path.realpath(link))
        if not target.exists():
            report(SkippedPath(link, f"broken symlink to {target}"))
        elif not follow_symlinks and target != root_real and root_real not in target.parents:
            report(SkippedPath(link, f"symlink to {target}, outside {root}; pass --follow-symlinks "
                                     "(follow_symlinks=True) to index it"))
        elif target.is_dir():
            if str(target) in walked:
                report(SkippedPath(link, f"symlink to {target}, a folder already indexed"))
            else:
                scan(link, True)
        elif link.suffix.lower() in FORMATS:
            found.append((link, str(target), True))
    yield from _unique(found, report)


def _unique(found: list[tuple[Path, str, bool]], report: Report) -> Iterator[Path]:
    """Each real file once, in path order: under its own path if the walk met it, else
    under the first link to it."""
    keep: dict[str, Path] = {}
    for path, real, via_link in sorted(found, key=lambda f: (f[2], f[0])):
        if real in keep:
            report(SkippedPath(path, f"same file as {keep[real]}"))
        else:
            keep[real] = path
    yield from sorted(keep.values())


def load_file(path: Path, with_source: bool = True) -> Iterator[Document]:
    """Text and Markdown files are one document each, with the path as id; JSONL gives
    one document per line with its ``_id``/``id``, ``text``, optional ``title`` and ``metadata``."""
    fmt = FORMATS[path.suffix.lower()]
    if fmt != "jsonl":
        text = _decode(path.read_bytes(), str(path))
        yield Document(path.as_posix(), text, {"source": path.as_posix(), "format": fmt})
        return
    with open(path, "rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            line = _decode(raw, f"{path}:{line_no}")
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


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidDocumentError(
            f"{where} is not valid UTF-8 (byte {exc.start}: {exc.reason}); convert the file to UTF-8 "
            "(e.g. iconv -f latin1 -t utf-8) and load it again"
        ) from None


def load_documents(paths: Iterable[str | Path], *, follow_symlinks: bool = False,
                   skipped: list[SkippedPath] | None = None) -> Iterator[Document]:
    """The documents in ``paths`` (see :func:`iter_files` for what a folder walk includes).

    Without ``skipped``, a file that cannot be loaded raises; with it, the file is
    appended there (kind ``"unreadable"``) and the others are still loaded.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "good.md").write_text("fine"); _ = (root / "bad.txt").write_bytes("café".encode("latin-1"))
    >>> left_out = []
    >>> [d.text for d in load_documents([root], skipped=left_out)], [s.kind for s in left_out]
    (['fine'], ['unreadable'])
    """
    for file in iter_files(paths, follow_symlinks=follow_symlinks, skipped=skipped):
        if skipped is None:
            yield from load_file(file)
            continue
        try:
            docs = list(load_file(file))  # whole file or nothing: a bad line skips the file
        except InvalidInputError as exc:
            skipped.append(SkippedPath(file, _reason(file, str(exc)), "unreadable"))
        except OSError as exc:
            skipped.append(SkippedPath(file, f"cannot be read ({exc.strerror or exc})", "unreadable"))
        else:
            yield from docs


def _reason(file: Path, message: str) -> str:
    """``message`` without the leading path that :class:`SkippedPath` prints anyway."""
    name = str(file)
    if message.startswith(name + ":"):
        return "line " + message[len(name) + 1:]
    return message.removeprefix(name).removeprefix(" ").removeprefix("is ")
