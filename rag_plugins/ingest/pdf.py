"""PDF through pypdf: text per page in reading order, headings from the outline or the fonts.

The document's text is Markdown with a form feed between pages, so the chunker gives every
chunk ``page_start`` / ``page_end``. Headings come from the outline (bookmarks) where the
file has one, found on their page by their title; else lines set in a font clearly larger
than the body text become headings, ranked by size. Running headers and footers (lines at
the top or bottom repeated on most pages, page numbers aside) are dropped. Pages with no text
layer are listed in ``metadata["pages_without_text"]`` and reported; a file with no text
at all, an encrypted or a damaged one raises :class:`~rag_plugins.errors.InvalidDocumentError`.
pypdf does not expose tables: their cells come out as lines of text.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from rag_plugins.errors import InvalidDocumentError, MissingDependencyError
from rag_plugins.ingest.markdown import escape_structure
from rag_plugins.types import Document

PAGE_BREAK = "\n\f\n"
_DIGITS = re.compile(r"\d+")


def load_pdf(path: Path) -> list[Document]:
    try:
        from pypdf import PdfReader
    except ImportError as exc:
        raise MissingDependencyError('reading PDF needs pypdf; pip install "rag-plugins[ingest]"') from exc
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidDocumentError(f"{path} is encrypted; decrypt it (e.g. qpdf --decrypt) and load it again")
        pages, sizes = zip(*(_page_text(page) for page in reader.pages)) if reader.pages else ((), ())
        outline = _outline(reader)
        meta_title = (reader.metadata or {}).get("/Title") if reader.metadata else None
    except InvalidDocumentError:
        raise
    except Exception as exc:  # a damaged file can fail anywhere in the parser: it is unreadable, not a crash
        raise InvalidDocumentError(f"{path} is not a readable PDF ({type(exc).__name__}: {exc}); "
                                   "check the file is complete, or re-export it") from None
    empty = [i + 1 for i, text in enumerate(pages) if not text.strip()]
    if len(empty) == len(pages):
        raise InvalidDocumentError(f"{path} has no text layer on any of its {len(pages)} page(s) (scanned?); "
                                   "run OCR on it first (e.g. ocrmypdf) and load the result")
    lines = _drop_running_lines([text.splitlines() for text in pages])
    lines = [[escape_structure(line) for line in page] for page in lines]
    if outline:
        _place_outline(lines, outline)
    else:
        _mark_large_lines(lines, sizes)
    text = PAGE_BREAK.join("\n".join(page).strip("\n") for page in lines)
    metadata: dict[str, Any] = {"source": path.as_posix(), "format": "pdf", "pages": len(pages)}
    title = str(meta_title).strip() if meta_title and str(meta_title).strip().lower() != "untitled" else ""
    title = title or (outline[0][1] if outline else "")
    if title:
        metadata["title"] = title
    if empty:
        metadata["pages_without_text"] = empty
    return [Document(path.as_posix(), text, metadata)]


def _page_text(page: Any) -> tuple[str, list[tuple[str, float]]]:
    """The page's text and each text run with its rendered font size."""
    runs: list[tuple[str, float]] = []

    def visit(text: str, cm: Any, tm: Any, font: Any, size: float) -> None:
        if text.strip():
            scale = (abs(tm[3]) or 1.0) * (abs(cm[3]) or 1.0)
            runs.append((text, float(size) * scale))

    return page.extract_text(visitor_text=visit) or "", runs


def _outline(reader: Any) -> list[tuple[int, str, int]]:
    """``(level, title, page index)`` of every outline entry, in order."""
    found: list[tuple[int, str, int]] = []

    def walk(items: Any, level: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
                continue
            try:
                page = reader.get_destination_page_number(item)
            except Exception:  # a bookmark to nowhere: pypdf raises several kinds
                continue
            title = " ".join(str(getattr(item, "title", "") or "").split())
            if title and page is not None and page >= 0:
                found.append((min(level, 6), title, page))

    try:
        walk(reader.outline, 1)
    except Exception:  # a damaged outline is no reason to lose the text
        return []
    return found


def _drop_running_lines(pages: list[list[str]], depth: int = 2) -> list[list[str]]:
    """Without the lines among the first and last ``depth`` of each page that repeat (digits
    aside) on most of 3+ pages: running headers, footers and page numbers."""
    if len(pages) < 3:
        return pages
    shape = lambda line: _DIGITS.sub("#", " ".join(line.split()).lower())  # noqa: E731
    counts: Counter[str] = Counter()
    for page in pages:
        nonblank = [line for line in page if line.strip()]
        counts.update({shape(line) for line in nonblank[:depth] + nonblank[-depth:]})
    running = {line for line, n in counts.items() if n > len(pages) / 2 and line}
    out = []
    for page in pages:
        nonblank = [i for i, line in enumerate(page) if line.strip()]
        edges = set(nonblank[:depth] + nonblank[-depth:])
        out.append([line for i, line in enumerate(page) if i not in edges or shape(line) not in running])
    return out


def _norm(text: str) -> str:
    return " ".join(text.replace("\\", "").split()).lower()


def _place_outline(pages: list[list[str]], outline: list[tuple[int, str, int]]) -> None:
    """Each outline title as a Markdown heading: replacing the line on its page that reads
    the same (or starts with it), else at the top of the page."""
    searched_from: dict[int, int] = {}
    inserts: dict[int, list[str]] = {}
    for level, title, page in outline:
        if page >= len(pages):
            continue
        lines, want = pages[page], _norm(title)
        start = searched_from.get(page, 0)
        hit = next((i for i in range(start, len(lines)) if _norm(lines[i]) == want), None)
        if hit is None:
            hit = next((i for i in range(start, len(lines)) if want and _norm(lines[i]).startswith(want)), None)
        heading = "#" * level + " " + title
        if hit is None:
            inserts.setdefault(page, []).append(heading)
            continue
        rest = lines[hit].strip()[len(title):].strip() if _norm(lines[hit]) != want else ""
        lines[hit:hit + 1] = [heading, ""] + ([rest] if rest else [])
        searched_from[page] = hit + 1
    for page, headings in inserts.items():
        pages[page][0:0] = [*headings, ""]


def _mark_large_lines(pages: list[list[str]], sizes: tuple[list[tuple[str, float]], ...]) -> None:
    """Lines set in a font 15% or more above the body size (short ones) as headings."""
    weight: Counter[float] = Counter()
    for runs in sizes:
        for text, size in runs:
            weight[round(size, 1)] += len(text)
    if not weight:
        return
    body = weight.most_common(1)[0][0]
    levels = sorted({round(s, 1) for runs in sizes for _, s in runs if s >= body * 1.15}, reverse=True)[:6]
    if not levels:
        return
    for lines, runs in zip(pages, sizes):
        large = {}
        for text, size in runs:
            if round(size, 1) in levels and len(text.split()) <= 12:
                large[_norm(text)] = levels.index(round(size, 1)) + 1
        marked: list[str] = []
        for line in lines:
            level = large.get(_norm(line))
            marked.extend(["#" * level + " " + line.strip().replace("\\", ""), ""] if level and line.strip() else [line])
        lines[:] = marked
