"""Structure-aware chunking of plain text and Markdown (and of what loaders turn into it).

Headings, paragraphs, lists, tables and fenced code blocks are kept whole. Blocks are
packed into chunks of at most ``chunk_size`` units (the embedding model's tokens when a
token counter is given, else words), and a chunk never spans two sections. Only a block
that alone exceeds the limit is cut: prose at sentence boundaries, code and tables at
line boundaries, then at word boundaries. Each chunk's text is the exact span of the
source it covers, so ``char_start``/``char_end`` index the document text.

Locators for citation: a heading written ``## Title {#anchor}`` (as the HTML loader writes
headings that have an id) gives its section's chunks ``anchor``; in a document of format
``pdf`` each form feed starts a page, and chunks carry ``page_start``/``page_end``.
Documents of format ``code`` go to :class:`rag_plugins.code_chunking.CodeChunker`.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Callable, Iterator

from rag_plugins._validation import check_count
from rag_plugins.errors import InvalidInputError
from rag_plugins.types import Chunk, Document

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_ANCHOR = re.compile(r"^(.*?)[ \t]*\{#([^\s{}]+)\}$")
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^[ \t]*([-*+]|\d{1,9}[.)])[ \t]+")
_TABLE_ROW = re.compile(r"^[ \t]*\|")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATIONS = re.compile(
    r"(?:\b(?:e\.g|i\.e|etc|vs|Dr|Mr|Mrs|Ms|Prof|Fig|al|No|St|approx|cf)|\b[A-Z])\.$"
)
_WORD = re.compile(r"\S+")


MARKDOWN_FORMATS = frozenset({"markdown", "md", "html", "pdf", "docx", "chat"})
"""Document formats whose text is Markdown: headings, lists, tables and fences are structure.
The loaders write HTML, PDF, Word and chat exports as Markdown."""


def count_words(text: str) -> int:
    """The fallback size measure: whitespace-separated words."""
    return len(text.split())


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    kind: str  # paragraph | list | table | code | sentence | line | words
    heading_path: tuple[str, ...]
    anchor: str | None = None


def _blocks(text: str, markdown: bool) -> Iterator[_Span]:
    """Split a document into blocks, tracking the Markdown heading path."""
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    headings: list[tuple[int, str, str | None]] = []  # (level, title, anchor)
    i = 0
    while i < len(lines):
        line = lines[i].rstrip("\r\n\f")
        path = tuple(t for _, t, _ in headings)
        anchor = next((a for _, _, a in reversed(headings) if a), None)
        if not line.strip():
            i += 1
            continue
        if markdown:
            fence = _FENCE.match(line)
            if fence:
                marker = fence.group(1)
                j = i + 1
                while j < len(lines) and not lines[j].lstrip().startswith(marker[0] * len(marker)):
                    j += 1
                j = min(j + 1, len(lines))
                yield _Span(offsets[i], offsets[j], "code", path, anchor)
                i = j
                continue
            heading = _HEADING.match(line)
            if heading:
                level = len(heading.group(1))
                title, tag = heading.group(2).strip(), None
                tagged = _ANCHOR.match(title)
                if tagged and tagged.group(1):
                    title, tag = tagged.group(1), tagged.group(2)
                headings = [h for h in headings if h[0] < level]
                headings.append((level, title, tag))
                i += 1
                continue
        kind = "paragraph"
        if markdown and _TABLE_ROW.match(line):
            kind = "table"
        elif markdown and _LIST_ITEM.match(line):
            kind = "list"
        j = i + 1
        while j < len(lines):
            nxt = lines[j].rstrip("\r\n")
            if not nxt.strip():
                # a blank line ends a block, except between items of one list
                if kind == "list" and j + 1 < len(lines) and (
                    _LIST_ITEM.match(lines[j + 1]) or lines[j + 1].startswith(("  ", "\t"))
                ):
                    j += 1
                    continue
                break
            if markdown and (_HEADING.match(nxt) or _FENCE.match(nxt)):
                break
            if markdown and kind == "table" and not _TABLE_ROW.match(nxt):
                break
            if markdown and kind == "paragraph" and (_TABLE_ROW.match(nxt) or _LIST_ITEM.match(nxt)):
                break
            j += 1
        end = offsets[j]
        while end > offsets[i] and text[end - 1] in "\r\n\f":
            end -= 1
        yield _Span(offsets[i], end, kind, path, anchor)
        i = j


def _sentences(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    pos = start
    for m in _SENTENCE_END.finditer(text, start, end):
        if _ABBREVIATIONS.search(text, max(pos, m.start() - 8), m.start()):
            continue
        yield pos, m.start()
        pos = m.end()
    if pos < end:
        yield pos, end


def _lines(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl < 0 else nl + 1
        if text[pos:stop].strip():
            yield pos, stop
        pos = stop


class StructureAwareChunker:
    """Split documents into chunks that respect Markdown structure.

    ``token_counter`` counts units in a text (e.g. an embedding tokenizer); without it the
    limit is in words. ``chunk_overlap`` repeats trailing units of a chunk at the start of
    the next one, up to that many units, without ever cutting a block for it.

    >>> chunker = StructureAwareChunker(chunk_size=8)
    >>> doc = Document("d", "# Intro\\n\\nOne two three.\\n\\n## Part\\n\\nFour five six seven.")
    >>> [(c.text, c.heading_path) for c in chunker.split(doc)]
    [('One two three.', ['Intro']), ('Four five six seven.', ['Intro', 'Part'])]
    """

    def __init__(
        self,
        chunk_size: int = 256,
        chunk_overlap: int = 0,
        token_counter: Callable[[str], int] | None = None,
        markdown: bool | None = None,
    ):
        check_count(chunk_size, "chunk_size")
        if not isinstance(chunk_overlap, int) or not 0 <= chunk_overlap < chunk_size:
            raise InvalidInputError(
                f"chunk_overlap must be an int in [0, chunk_size), got {chunk_overlap!r}"
            )
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.count = token_counter or count_words
        self.unit = "tokens" if token_counter else "words"
        self.markdown = markdown

    def config(self) -> dict:
        return {
            "chunk_size": self.chunk_size,
            "chunk_overlap": self.chunk_overlap,
            "unit": self.unit,
            "markdown": self.markdown,
        }

    def split(self, document: Document) -> list[Chunk]:
        text = document.text
        fmt = str(document.metadata.get("format", "markdown")).lower()
        if fmt == "code":
            from rag_plugins.code_chunking import CodeChunker

            return CodeChunker(self.chunk_size, self.count).split(document)
        markdown = self.markdown
        if markdown is None:
            markdown = fmt in MARKDOWN_FORMATS
        pieces: list[tuple[_Span, int]] = []
        for block in _blocks(text, markdown):
            pieces.extend(self._fit(text, block))
        page_breaks = [m.start() for m in re.finditer("\f", text)] if fmt == "pdf" else None
        chunks = []
        for position, span in enumerate(self._pack(text, pieces)):
            meta = dict(document.metadata)
            meta.update(heading_path=list(span.heading_path), char_start=span.start, char_end=span.end)
            if span.anchor:
                meta["anchor"] = span.anchor
            if page_breaks is not None:  # page n starts after the (n-1)th form feed
                meta["page_start"] = bisect.bisect_right(page_breaks, span.start) + 1
                meta["page_end"] = bisect.bisect_right(page_breaks, span.end - 1) + 1
            chunks.append(Chunk(f"{document.id}#{position}", document.id, text[span.start:span.end], position, meta))
        return chunks

    def _fit(self, text: str, span: _Span) -> list[tuple[_Span, int]]:
        """Return ``span`` whole if it fits, else cut into fitting pieces."""
        size = self.count(text[span.start : span.end])
        if size <= self.chunk_size:
            return [(span, size)]
        if span.kind in ("code", "table", "list"):
            cuts, kind = _lines(text, span.start, span.end), "line"
        elif span.kind in ("paragraph",):
            cuts, kind = _sentences(text, span.start, span.end), "sentence"
        else:
            return self._words(text, span)
        out: list[tuple[_Span, int]] = []
        parts = list(cuts)
        if len(parts) <= 1:
            return self._words(text, span)
        for start, end in parts:
            out.extend(self._fit(text, _Span(start, end, kind, span.heading_path, span.anchor)))
        return out

    def _words(self, text: str, span: _Span) -> list[tuple[_Span, int]]:
        words = [m.span() for m in _WORD.finditer(text, span.start, span.end)]
        out: list[tuple[_Span, int]] = []
        i = 0
        while i < len(words):
            # grow greedily; binary search keeps tokenizer calls logarithmic
            lo, hi = i + 1, len(words)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if self.count(text[words[i][0] : words[mid - 1][1]]) <= self.chunk_size:
                    lo = mid
                else:
                    hi = mid - 1
            j = max(lo, i + 1)
            piece = _Span(words[i][0], words[j - 1][1], "words", span.heading_path, span.anchor)
            out.append((piece, self.count(text[piece.start : piece.end])))
            i = j
        return out

    def _pack(self, text: str, pieces: list[tuple[_Span, int]]) -> Iterator[_Span]:
        current: list[tuple[_Span, int]] = []
        total = 0
        for piece, size in pieces:
            section_changed = current and current[-1][0].heading_path != piece.heading_path
            if current and (section_changed or total + size > self.chunk_size):
                yield _Span(current[0][0].start, current[-1][0].end, "chunk", current[0][0].heading_path,
                            current[0][0].anchor)
                current, total = ([], 0) if section_changed else self._overlap(current, size)
            current.append((piece, size))
            total += size
        if current:
            yield _Span(current[0][0].start, current[-1][0].end, "chunk", current[0][0].heading_path,
                        current[0][0].anchor)

    def _overlap(self, previous: list[tuple[_Span, int]], incoming: int) -> tuple[list, int]:
        if not self.chunk_overlap:
            return [], 0
        kept: list[tuple[_Span, int]] = []
        total = 0
        for piece, size in reversed(previous):
            if total + size > self.chunk_overlap or total + size + incoming > self.chunk_size:
                break
            kept.insert(0, (piece, size))
            total += size
        if len(kept) == len(previous):  # never repeat a whole chunk
            kept, total = kept[1:], total - (kept[0][1] if kept else 0)
        return kept, total
