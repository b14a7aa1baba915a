"""Word (.docx) through python-docx: headings by style, lists, and tables, in body order.

Paragraphs styled ``Title`` or ``Heading 1``-``Heading 6`` become Markdown headings (so
chunks get their heading path), list paragraphs become list items, and tables become
pipe tables that the chunker keeps whole. The core properties' title goes into the metadata.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rag_plugins.errors import InvalidDocumentError, MissingDependencyError
from rag_plugins.ingest.markdown import escape_structure, pipe_table
from rag_plugins.types import Document

_HEADING_STYLE = re.compile(r"^(?:heading|überschrift|titre)\s*(\d)$", re.IGNORECASE)


def load_docx(path: Path) -> list[Document]:
    try:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph
    except ImportError as exc:
        raise MissingDependencyError('reading Word files needs python-docx; pip install "rag-plugins[ingest]"') from exc
    try:
        document = docx.Document(str(path))
    except Exception as exc:  # a damaged file can fail anywhere in the parser: it is unreadable, not a crash
        raise InvalidDocumentError(f"{path} is not a readable .docx ({type(exc).__name__}: {exc}); "
                                   "re-save it from Word or LibreOffice as .docx") from None
    # style names by id, read once: python-docx's paragraph.style searches the styles part each time
    styles = {style.style_id: style.name or "" for style in document.styles}
    blocks: list[str] = []
    for element in document.element.body.iterchildren():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "p":
            _paragraph(Paragraph(element, document), styles, blocks)
        elif tag == "tbl":
            blocks.append(_table(Table(element, document)))
    text = _join(blocks)
    if not text.strip():
        raise InvalidDocumentError(f"{path} has no text; check it is not only images")
    metadata: dict[str, Any] = {"source": path.as_posix(), "format": "docx"}
    title = (document.core_properties.title or "").strip()
    if title:
        metadata["title"] = title
    return [Document(path.as_posix(), text, metadata)]


def _paragraph(paragraph: Any, styles: dict[str, str], blocks: list[str]) -> None:
    text = " ".join(paragraph.text.split())
    if not text:
        return
    style = styles.get(paragraph._p.style or "", "")
    heading = _HEADING_STYLE.match(style)
    if style.lower() == "title":
        blocks.append("# " + text)
    elif heading:
        blocks.append("#" * min(int(heading.group(1)), 6) + " " + text)
    elif style.lower().startswith("list") or paragraph._p.pPr is not None and paragraph._p.pPr.numPr is not None:
        marker = "1." if "number" in style.lower() else "-"
        blocks.append(f"{marker} {text}")
    else:
        blocks.append(escape_structure(text))


def _table(table: Any) -> str:
    return pipe_table([[cell.text for cell in row.cells] for row in table.rows])


def _join(blocks: list[str]) -> str:
    """Blocks separated by blank lines, except consecutive list items (one list)."""
    out: list[str] = []
    for block in blocks:
        if out and _is_item(block) and _is_item(out[-1]):
            out[-1] += "\n" + block
        else:
            out.append(block)
    return "\n\n".join(b for b in out if b) + "\n"


def _is_item(block: str) -> bool:
    return block.startswith(("- ", "1. ")) or "\n- " in block or "\n1. " in block
