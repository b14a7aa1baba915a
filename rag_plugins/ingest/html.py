"""HTML through BeautifulSoup (lxml): the main content as Markdown, boilerplate left out.

The main content is the page's ``<main>``, ``[role=main]``, ``<article>`` or a known
content container (Sphinx's ``div.body``, Confluence's ``#main-content``), else ``<body>``;
navigation, headers, footers, sidebars, scripts and forms inside it are dropped. ``h1``-``h6``
become Markdown headings carrying their id (or their section's) as ``{#anchor}``, so chunks
get ``anchor``; a ``<dt>`` with an id (an API entry) becomes a heading one level below its
section. Tables become pipe tables and ``<pre>`` fenced blocks, each kept whole by the
chunker. The page title and canonical URL go into the metadata.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rag_plugins.errors import InvalidDocumentError, MissingDependencyError
from rag_plugins.ingest.markdown import escape_structure, pipe_table
from rag_plugins.ingest.text import decode
from rag_plugins.types import Document

_MAIN = (("main", {}), (None, {"role": "main"}), ("article", {}), ("div", {"class": "body"}),
         (None, {"id": "main-content"}), (None, {"id": "content"}), ("div", {"class": "document"}))
_DROP = frozenset({"script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form", "iframe",
                   "svg", "button"})
_DROP_ROLES = frozenset({"navigation", "banner", "contentinfo", "search"})
_BOILERPLATE = re.compile(r"(^|[-_ ])(nav|navbar|navigation|sidebar|sphinxsidebar|breadcrumbs?|footer|header|menu|"
                          r"toc|related|skip-?link|cookie|banner)([-_ ]|$)", re.IGNORECASE)
_BLOCKS = {"p", "div", "section", "article", "main", "blockquote", "figure", "figcaption", "dd", "li", "body",
           "center", "address", "details", "summary"}
_HEADINGS = {f"h{n}": n for n in range(1, 7)}


def load_html(path: Path) -> list[Document]:
    try:
        from bs4 import BeautifulSoup
    except ImportError as exc:
        raise MissingDependencyError('reading HTML needs beautifulsoup4 and lxml; pip install "rag-plugins[ingest]"') from exc
    raw = path.read_bytes()
    html = decode(raw, str(path)) if b"\x00" not in raw[:1024] else None
    if html is None:
        raise InvalidDocumentError(f"{path} is binary, not HTML; remove it or give it its real extension")
    soup = BeautifulSoup(html, "lxml")
    text, title, canonical = html_to_markdown(soup)
    if not text.strip():
        raise InvalidDocumentError(f"{path} has no text in its main content; check it is a page, not a frame or a redirect")
    metadata: dict[str, Any] = {"source": path.as_posix(), "format": "html"}
    if title:
        metadata["title"] = title
    if canonical:
        metadata["url"] = canonical
    return [Document(path.as_posix(), text, metadata)]


def html_to_markdown(soup: Any) -> tuple[str, str, str]:
    """``(markdown of the main content, page title, canonical URL)``.

    >>> from bs4 import BeautifulSoup
    >>> page = ('<html><head><title>Guide</title></head><body><nav>Home | About</nav><main>'
    ...         '<h1 id="top">Guide</h1><p>Hello <b>world</b>.</p><pre>x = 1\\n</pre></main></body></html>')
    >>> print(html_to_markdown(BeautifulSoup(page, "lxml"))[0])
    # Guide {#top}
    <BLANKLINE>
    Hello world.
    <BLANKLINE>
    ```
    x = 1
    ```
    <BLANKLINE>
    """
    title_tag = soup.find("title")
    title = " ".join(title_tag.get_text().split()) if title_tag else ""
    link = soup.find("link", rel="canonical")
    canonical = str(link.get("href", "")) if link else ""
    main = next((found for name, attrs in _MAIN if (found := soup.find(name, attrs=attrs)) is not None), None)
    main = main or soup.body or soup
    stack = [main]  # one walk that does not enter what it drops (CSS selectors cost several parses)
    while stack:
        for child in list(stack.pop().children):
            if getattr(child, "name", None) is None:
                continue
            if _boilerplate(child):
                child.decompose()
            else:
                stack.append(child)
    if not title:
        first = main.find(list(_HEADINGS))
        title = " ".join(first.get_text().split()) if first else ""
    blocks: list[str] = []
    _walk(main, blocks, depth=[0])
    return "\n\n".join(b for b in blocks if b.strip()) + "\n", title, canonical


def _boilerplate(tag: Any) -> bool:
    """Navigation, page furniture, scripts, Sphinx's heading links: not content."""
    if tag.name in _DROP or tag.get("role") in _DROP_ROLES or tag.get("aria-hidden") == "true":
        return True
    classes = tag.get("class") or []
    if tag.name == "a" and "headerlink" in classes:
        return True
    marks = " ".join([*classes, str(tag.get("id") or "")])
    return tag.name not in _HEADINGS and bool(marks.strip()) and bool(_BOILERPLATE.search(marks))


def _walk(node: Any, out: list[str], depth: list[int]) -> None:
    inline: list[str] = []

    def flush() -> None:
        text = " ".join("".join(inline).split())
        if text:
            out.append(escape_structure(text))
        inline.clear()

    for child in node.children:
        name = getattr(child, "name", None)
        if name is None:
            if type(child).__name__ in ("Comment", "Doctype", "Declaration", "ProcessingInstruction", "CData"):
                continue
            inline.append(str(child))
            continue
        if name in _HEADINGS:
            flush()
            level = _HEADINGS[name]
            depth[0] = level
            out.append("#" * level + " " + " ".join(child.get_text().split()) + _anchor(child))
        elif name == "pre":
            flush()
            code = child.get_text().strip("\n")
            fence = "````" if "```" in code else "```"
            out.append(f"{fence}\n{code}\n{fence}")
        elif name == "table":
            flush()
            out.append(_table(child))
        elif name in ("ul", "ol"):
            flush()
            items = [" ".join(li.get_text(" ").split()) for li in child.find_all("li", recursive=False)]
            out.append("\n".join(f"{f'{i}.' if name == 'ol' else '-'} {escape_structure(t)}"
                                  for i, t in enumerate(items, start=1) if t))
        elif name == "dl":
            flush()
            _definitions(child, out, depth)
        elif name == "br":
            inline.append("\n")
        elif name in _BLOCKS or name in ("dt", "hr"):
            flush()
            _walk(child, out, depth)
        else:
            inline.append(child.get_text())
    flush()


def _definitions(dl: Any, out: list[str], depth: list[int]) -> None:
    """``<dt id=...>`` entries (API documentation) as headings below the current section."""
    section = depth[0]
    for child in dl.find_all(["dt", "dd"], recursive=False):
        if child.name == "dt" and child.get("id") and section < 6:
            out.append("#" * (section + 1) + " " + " ".join(child.get_text().split()) + f" {{#{child['id']}}}")
            depth[0] = section + 1
        elif child.name == "dt":
            text = " ".join(child.get_text().split())
            if text:
                out.append(escape_structure(text))
        else:
            _walk(child, out, depth)
    depth[0] = section


def _anchor(heading: Any) -> str:
    ident = heading.get("id")
    if not ident:
        parent = heading.parent
        ident = parent.get("id") if parent is not None and parent.name in ("section", "div") else None
    return f" {{#{ident}}}" if ident and not re.search(r"\s|[{}]", ident) else ""


def _table(table: Any) -> str:
    return pipe_table([[c.get_text(" ") for c in tr.find_all(["th", "td"])] for tr in table.find_all("tr")])
