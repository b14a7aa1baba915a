"""Load documents from files and folders: every format of :mod:`rag_plugins.ingest`.

Folders are walked without leaving them: a symlink whose target lies outside the folder
is skipped (and reported) unless ``follow_symlinks=True``, so ``index docs/`` never
serves ``/etc/hostname`` through ``docs/notes.md -> /etc/hostname``. A file reached twice
(through a link inside the folder) is loaded once, under its own path when it has one.
Given a ``skipped`` list, a walk also reports the files it cannot load (an unsupported
type, bytes that are not UTF-8, a bad JSONL line) there and goes on with the rest.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from rag_plugins.errors import InvalidInputError, MissingDependencyError
from rag_plugins.ingest import FORMATS, load_path
from rag_plugins.ingest.chat import is_slack_export
from rag_plugins.path_filter import PathFilter
from rag_plugins.types import Document

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SkippedPath:
    """A path a folder walk left out, and why; ``kind`` is ``"link"`` (a symlink not
    followed), ``"unsupported"`` (a file type no loader reads), ``"unreadable"``, or
    ``"partial"`` (loaded, but part of it could not be read: a PDF's scanned pages)."""

    path: Path
    reason: str
    kind: str = "link"

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


Report = Callable[[SkippedPath], None]


def iter_files(paths: Iterable[str | Path], *, follow_symlinks: bool = False,
               skipped: list[SkippedPath] | None = None,
               select: Callable[[Path], PathFilter] | None = None) -> Iterator[Path]:
    """Supported files under each path (folders walked in sorted order, hidden files skipped).

    Symlinks inside a folder are followed only while their target stays inside it, unless
    ``follow_symlinks``; every symlink left out is appended to ``skipped`` (or logged as a
    warning when no list is given), and so is every file of an unsupported type (only when
    a list is given). A path named directly is always read. ``select(folder)`` gives the
    :class:`~rag_plugins.path_filter.PathFilter` of each folder walked (globs, ``.gitignore``).

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
        if is_slack_export(path):
            yield path
        elif path.is_dir():
            yield from _walk(path, follow_symlinks, report, unsupported, select(path) if select else None)
        elif path.is_file():
            if path.suffix.lower() not in FORMATS:
                raise InvalidInputError(f"{path}: unsupported file type; use one of {sorted(FORMATS)}")
            yield path
        else:
            raise InvalidInputError(f"{path} does not exist; check the path")


def _log_skip(skip: SkippedPath) -> None:
    logger.warning("skipped %s", skip)


def _walk(root: Path, follow_symlinks: bool, report: Report, unsupported: Report | None,
          keep: PathFilter | None = None) -> Iterator[Path]:
    root_real = Path(os.path.realpath(root))
    found: list[tuple[Path, str, bool]] = []  # (path, real path, reached through a symlink)
    links: list[Path] = []
    walked: set[str] = set()

    def scan(top: Path, via_link: bool) -> None:
        for dirpath, dirnames, filenames in os.walk(top):
            walked.add(os.path.realpath(dirpath))
            here = Path(dirpath)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                                 and (keep is None or keep.keeps(here / d, True)))
            for name in list(dirnames):
                if (here / name).is_symlink():
                    links.append(here / name)
                    dirnames.remove(name)
                elif is_slack_export(here / name):  # one source, not a folder of JSON files
                    found.append((here / name, os.path.realpath(here / name), via_link))
                    dirnames.remove(name)
            for name in sorted(f for f in filenames if not f.startswith(".")):
                file = here / name
                if keep is not None and not keep.keeps(file, False):
                    continue
                if file.is_symlink():
                    links.append(file)
                elif file.suffix.lower() in FORMATS or (file.suffix.lower() == ".zip" and is_slack_export(file)):
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
    """The documents of one file (see :func:`rag_plugins.ingest.load_path`): text and Markdown
    files are one document each with the path as id, JSONL one per line, PDF, HTML, Word and
    code one per file, chat exports one per thread."""
    yield from load_path(Path(path), with_source)


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
        except (InvalidInputError, MissingDependencyError) as exc:
            skipped.append(SkippedPath(file, skip_reason(file, str(exc)), "unreadable"))
        except OSError as exc:
            skipped.append(SkippedPath(file, f"cannot be read ({exc.strerror or exc})", "unreadable"))
        else:
            skipped.extend(partly_read(file, docs))
            yield from docs


def partly_read(file: Path, docs: Iterable[Document]) -> list[SkippedPath]:
    """A ``"partial"`` note for each document of ``file`` that lost pages (a PDF's scanned ones)."""
    notes = []
    for doc in docs:
        if doc.metadata.get("pages_without_text"):
            pages = ", ".join(map(str, doc.metadata["pages_without_text"]))
            notes.append(SkippedPath(file, f"page(s) {pages} have no text layer (scanned?) and were left out; "
                                           "run OCR on the file (e.g. ocrmypdf) to include them", "partial"))
    return notes


def skip_reason(file: Path, message: str) -> str:
    """``message`` without the leading path that :class:`SkippedPath` prints anyway."""
    name = str(file)
    if message.startswith(name + ":"):
        return "line " + message[len(name) + 1:]
    return message.removeprefix(name).removeprefix(" ").removeprefix("is ")


@dataclass(frozen=True)
class SourceScan:
    """The files a walk of ``sources`` found, what it left out, and the folders it walked."""

    files: list[Path]
    skipped: list[SkippedPath]
    folders: list[Path]
    named: list[Path]


def scan_sources(sources: Sequence[str | Path], *, include: Sequence[str] = (), exclude: Sequence[str] = (),
                 gitignore: bool = True, follow_symlinks: bool = False) -> SourceScan:
    """Walk ``sources`` (files, folders, Slack exports) without touching any base."""
    if isinstance(sources, (str, Path)):
        raise InvalidInputError("sources is a list of paths; wrap one path in a list")
    paths = [Path(s) for s in sources]
    if not paths:
        raise InvalidInputError("give at least one file or folder to sync")
    for path in paths:
        if not path.exists():
            raise InvalidInputError(f"{path} does not exist; check the path")
    skipped: list[SkippedPath] = []
    files = list(dict.fromkeys(iter_files(
        paths, follow_symlinks=follow_symlinks, skipped=skipped,
        select=lambda root: PathFilter(root, include, exclude, gitignore))))
    return SourceScan(files, skipped, [p for p in paths if p.is_dir() and p not in files],
                      [p for p in paths if p in files])


def load_source(path: Path) -> list[Document] | SkippedPath:
    """A file's documents, or why it cannot be loaded."""
    try:
        return load_path(path)
    except (InvalidInputError, MissingDependencyError) as exc:
        return SkippedPath(path, skip_reason(path, str(exc)), "unreadable")
    except OSError as exc:
        return SkippedPath(path, f"cannot be read ({exc.strerror or exc})", "unreadable")


def load_sources(sources: Sequence[str | Path], *, include: Sequence[str] = (), exclude: Sequence[str] = (),
                 gitignore: bool = True, follow_symlinks: bool = False,
                 skipped: list[SkippedPath] | None = None) -> Iterator[Document]:
    """The documents of every file under ``sources`` (globs and ``.gitignore`` as a sync
    applies them), one file at a time. What cannot be loaded goes to ``skipped`` (or is
    logged as a warning) and the walk goes on."""
    scan = scan_sources(sources, include=include, exclude=exclude, gitignore=gitignore,
                        follow_symlinks=follow_symlinks)
    report = skipped.append if skipped is not None else _log_skip
    for skip in scan.skipped:
        report(skip)
    for path in scan.files:
        loaded = load_source(path)
        if isinstance(loaded, SkippedPath):
            report(loaded)
        else:
            yield from loaded
