"""Source code chunked at its own boundaries: functions, classes and methods (tree-sitter).

Each definition is a chunk of its own, with the enclosing classes and its signature as the
heading path (``["class Cache", "def get(self, key)"]``), so what the indexes read
(:attr:`~rag_plugins.types.Chunk.contextual_text`) names where the code sits. A class
that does not fit is split into its members; a function that does not fit is split at
statement boundaries, and every piece keeps the function's signature in its heading
path. Code between definitions (imports, constants) is packed into chunks of its own; the
closing bracket of a class split into its members belongs to no chunk.
Chunk text is always the exact source span; ``line_start`` / ``line_end`` (1-based,
inclusive) locate it. The grammars come from the tree-sitter org's wheels (the ``ingest``
extra): Python, JavaScript (and JSX), TypeScript (and TSX), Go, Java and Rust.
"""

from __future__ import annotations

import bisect
import importlib
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from rag_plugins.errors import InvalidDocumentError, MissingDependencyError
from rag_plugins.types import Chunk, Document


@dataclass(frozen=True)
class Grammar:
    """How to read one language: its tree-sitter wheel and the node types that matter."""

    module: str
    entry: str  # the wheel's function returning the language
    definitions: frozenset[str]  # nodes that are a chunk of their own
    containers: frozenset[str]  # definitions whose members are definitions (classes, impls)
    wrappers: frozenset[str] = frozenset()  # nodes around a definition (decorators, export)


_JS_DEFS = frozenset({"function_declaration", "generator_function_declaration", "class_declaration",
                      "method_definition", "abstract_class_declaration", "interface_declaration",
                      "enum_declaration", "type_alias_declaration", "internal_module", "module",
                      "function_signature", "abstract_method_signature"})
_JS_CONTAINERS = frozenset({"class_declaration", "abstract_class_declaration", "interface_declaration",
                            "internal_module", "module"})

GRAMMARS = {
    "python": Grammar("tree_sitter_python", "language", frozenset({"function_definition", "class_definition"}),
                      frozenset({"class_definition"}), frozenset({"decorated_definition"})),
    "javascript": Grammar("tree_sitter_javascript", "language", _JS_DEFS, _JS_CONTAINERS,
                          frozenset({"export_statement"})),
    "typescript": Grammar("tree_sitter_typescript", "language_typescript", _JS_DEFS, _JS_CONTAINERS,
                          frozenset({"export_statement"})),
    "tsx": Grammar("tree_sitter_typescript", "language_tsx", _JS_DEFS, _JS_CONTAINERS,
                   frozenset({"export_statement"})),
    "go": Grammar("tree_sitter_go", "language", frozenset({"function_declaration", "method_declaration",
                                                           "type_declaration"}), frozenset()),
    "java": Grammar("tree_sitter_java", "language",
                    frozenset({"class_declaration", "interface_declaration", "enum_declaration", "record_declaration",
                               "method_declaration", "constructor_declaration", "annotation_type_declaration"}),
                    frozenset({"class_declaration", "interface_declaration", "enum_declaration",
                               "record_declaration"})),
    "rust": Grammar("tree_sitter_rust", "language",
                    frozenset({"function_item", "impl_item", "trait_item", "struct_item", "enum_item", "mod_item",
                               "union_item", "macro_definition"}),
                    frozenset({"impl_item", "trait_item", "mod_item"})),
}

LANGUAGES = {".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript",
             ".jsx": "javascript", ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
             ".go": "go", ".java": "java", ".rs": "rust"}
"""File suffix → language."""

_COMMENTS = frozenset({"comment", "line_comment", "block_comment"})
_BODIES = frozenset({"block", "class_body", "statement_block", "declaration_list", "interface_body", "enum_body",
                     "field_declaration_list", "object_type"})
_parsers: dict[str, Any] = {}


def parser_for(language: str) -> Any:
    """A tree-sitter parser for ``language`` (cached), or a typed error saying what to install."""
    if language not in GRAMMARS:
        raise InvalidDocumentError(f"no grammar for language {language!r}; supported: {sorted(GRAMMARS)}")
    if language not in _parsers:
        grammar = GRAMMARS[language]
        try:
            import tree_sitter

            module = importlib.import_module(grammar.module)
        except ImportError as exc:
            raise MissingDependencyError(
                f"chunking {language} code needs tree-sitter and {grammar.module.replace('_', '-')}; "
                'pip install "rag-plugins[ingest]"'
            ) from exc
        _parsers[language] = tree_sitter.Parser(tree_sitter.Language(getattr(module, grammar.entry)()))
    return _parsers[language]


@dataclass(frozen=True)
class _Unit:
    start: int  # byte offsets
    end: int
    path: tuple[str, ...]
    kind: str  # definition | code


class CodeChunker:
    """Split a ``format: "code"`` document (``metadata["language"]``, see :data:`LANGUAGES`)
    at function, class and method boundaries, each chunk at most ``chunk_size`` units.

    >>> doc = Document("m.py", "import os\\n\\nclass A:\\n    def f(self):\\n        return 1\\n",
    ...                {"format": "code", "language": "python"})
    >>> [(c.heading_path, c.metadata["line_start"], c.metadata["line_end"]) for c in CodeChunker(64).split(doc)]
    [([], 1, 1), (['class A'], 3, 5)]
    """

    def __init__(self, chunk_size: int = 256, count: Callable[[str], int] | None = None):
        self.chunk_size = chunk_size
        self.count = count or (lambda text: len(text.split()))  # words, as the text chunker counts without a tokenizer

    def split(self, document: Document) -> list[Chunk]:
        language = str(document.metadata.get("language", ""))
        parser = parser_for(language)
        grammar = GRAMMARS[language]
        source = document.text.encode("utf-8")
        tree = parser.parse(source)
        text = _Text(document.text, source)
        units = list(self._members(tree.root_node, (), grammar, text))
        chunks = []
        for position, unit in enumerate(_merge_code(units, text, self)):
            start, end = text.char(unit.start), text.char(unit.end)
            meta = dict(document.metadata)
            meta.update(heading_path=list(unit.path), char_start=start, char_end=end,
                        line_start=text.line(unit.start), line_end=text.line(max(unit.start, unit.end - 1)))
            chunks.append(Chunk(f"{document.id}#{position}", document.id, document.text[start:end], position, meta))
        return chunks

    def _fits(self, text: "_Text", start: int, end: int) -> bool:
        return self.count(text.span(start, end)) <= self.chunk_size

    def _members(self, node: Any, path: tuple[str, ...], grammar: Grammar, text: "_Text") -> Iterator[_Unit]:
        """Units for the named children of ``node``: a definition each, other code as code
        units (merged later); leading comments go with the definition below them."""
        pending_comment: int | None = None
        for child in node.named_children:
            if child.type in _COMMENTS:
                if pending_comment is None:
                    pending_comment = child.start_byte
                continue
            definition = _definition(child, grammar)
            if definition is None:
                if pending_comment is not None:
                    yield _Unit(pending_comment, child.start_byte, path, "code")
                    pending_comment = None
                yield _Unit(child.start_byte, child.end_byte, path, "code")
                continue
            start = child.start_byte if pending_comment is None else pending_comment
            pending_comment = None
            yield from self._definition_units(start, child, definition, path, grammar, text)
        if pending_comment is not None:
            yield _Unit(pending_comment, node.end_byte, path, "code")

    def _definition_units(self, start: int, outer: Any, definition: Any, path: tuple[str, ...],
                          grammar: Grammar, text: "_Text") -> Iterator[_Unit]:
        inner_path = (*path, _signature(definition, text))
        if self._fits(text, start, outer.end_byte):
            yield _Unit(start, outer.end_byte, inner_path, "definition")
            return
        body = _body(definition)
        if body is None:
            yield from self._lines(start, outer.end_byte, inner_path, text)
            return
        members = body.named_children
        if definition.type in grammar.containers:
            head_end = members[0].start_byte if members else body.end_byte
            yield _Unit(start, head_end, inner_path, "head")
            yield from self._members(body, inner_path, grammar, text)
            return
        # a long function: its statements, packed; the signature rides in the heading path
        pieces: list[tuple[int, int]] = []
        begin = start
        for i, statement in enumerate(members):
            stop = members[i + 1].start_byte if i + 1 < len(members) else outer.end_byte
            pieces.append((begin, stop))
            begin = stop
        if not pieces:
            pieces = [(start, outer.end_byte)]
        current: tuple[int, int] | None = None
        for piece in pieces:
            if current and self._fits(text, current[0], piece[1]):
                current = (current[0], piece[1])
                continue
            if current:
                yield from self._trimmed(current, inner_path, text)
            current = piece
        if current:
            yield from self._trimmed(current, inner_path, text)

    def _trimmed(self, span: tuple[int, int], path: tuple[str, ...], text: "_Text") -> Iterator[_Unit]:
        start, end = text.strip(*span)
        if start >= end:
            return
        if self._fits(text, start, end):
            yield _Unit(start, end, path, "definition")
        else:
            yield from self._lines(start, end, path, text)

    def _lines(self, start: int, end: int, path: tuple[str, ...], text: "_Text") -> Iterator[_Unit]:
        """A statement too long for any chunk: whole lines, packed (one line alone may exceed).
        Closing brackets left over at the end stay with the lines before them."""
        groups: list[tuple[int, int]] = []
        begin = start
        pos = start
        while pos < end:
            nl = text.source.find(b"\n", pos, end)
            stop = end if nl < 0 else nl + 1
            if begin < pos and not self._fits(text, begin, stop):
                groups.append((begin, pos))
                begin = pos
            pos = stop
        groups.append((begin, end))
        if len(groups) > 1 and not text.span(*groups[-1]).strip(" \t\r\n})];,"):
            groups[-2:] = [(groups[-2][0], end)]
        for group in groups:
            yield from _nonempty(*group, path, text)


def _nonempty(start: int, end: int, path: tuple[str, ...], text: "_Text") -> Iterator[_Unit]:
    start, end = text.strip(start, end)
    if start < end:
        yield _Unit(start, end, path, "definition")


def _merge_code(units: list[_Unit], text: "_Text", chunker: CodeChunker) -> Iterator[_Unit]:
    """Adjacent code units at the same level packed into chunks that fit; definitions as they are."""
    current: _Unit | None = None
    for unit in units:
        if unit.kind == "head":  # a split class's own lines (header, docstring): code at its level
            unit = _Unit(unit.start, unit.end, unit.path, "code")
        if unit.kind == "code" and current is not None and current.path == unit.path \
                and chunker._fits(text, current.start, unit.end):
            current = _Unit(current.start, unit.end, unit.path, "code")
            continue
        if current is not None:
            yield from _nonempty(current.start, current.end, current.path, text)
            current = None
        if unit.kind == "code":
            if chunker._fits(text, unit.start, unit.end):
                current = unit
            else:
                yield from chunker._lines(unit.start, unit.end, unit.path, text)
        else:
            yield unit
    if current is not None:
        yield from _nonempty(current.start, current.end, current.path, text)


def _definition(node: Any, grammar: Grammar) -> Any:
    """The definition ``node`` is or wraps (a decorated function, an exported class), or None."""
    if node.type in grammar.wrappers:
        inner = node.child_by_field_name("definition") or node.child_by_field_name("declaration")
        if inner is None:
            inner = next((c for c in node.named_children if c.type in grammar.definitions), None)
        return inner if inner is not None and inner.type in grammar.definitions else None
    if node.type in grammar.definitions:
        return node
    if node.type in ("lexical_declaration", "variable_declaration"):  # const f = () => {...}
        for declarator in node.named_children:
            value = declarator.child_by_field_name("value")
            if value is not None and value.type in ("arrow_function", "function_expression", "function",
                                                    "class", "generator_function"):
                return node
    return None


def _body(definition: Any) -> Any:
    body = definition.child_by_field_name("body")
    if body is None and definition.type in ("lexical_declaration", "variable_declaration"):
        for declarator in definition.named_children:
            value = declarator.child_by_field_name("value")
            if value is not None:
                body = value.child_by_field_name("body")
    if body is None:
        body = next((c for c in definition.named_children if c.type in _BODIES), None)
    return body


def _signature(definition: Any, text: "_Text") -> str:
    """The definition's head up to its body, on one line: ``def get(self, key) -> str``."""
    body = _body(definition)
    end = body.start_byte if body is not None else definition.end_byte
    head, pos = b"", definition.start_byte
    for comment in _comments_in(definition, end):
        head += text.source[pos:comment.start_byte]
        pos = comment.end_byte
    head = (head + text.source[pos:end]).decode("utf-8", "replace")
    if body is None:
        head = head.split("\n", 1)[0]
    return " ".join(head.split()).rstrip(":{= ").rstrip() or definition.type


def _comments_in(node: Any, end: int) -> Iterator[Any]:
    """Comment nodes inside ``node`` that start before ``end``, in order."""
    for child in node.children:
        if child.start_byte >= end:
            return
        if child.type in _COMMENTS:
            yield child
        else:
            yield from _comments_in(child, end)


class _Text:
    """Byte ↔ character offsets and line numbers of one source."""

    def __init__(self, text: str, source: bytes):
        self.text, self.source = text, source
        self.line_starts = [0] + [m.end() for m in re.finditer(b"\n", source)]
        self._chars = None
        if len(source) != len(text):  # characters before each byte: count the non-continuation bytes
            lead = (np.frombuffer(source, dtype=np.uint8) & 0xC0) != 0x80
            self._chars = np.concatenate([[0], np.cumsum(lead)])

    def char(self, byte: int) -> int:
        return byte if self._chars is None else int(self._chars[byte])

    def line(self, byte: int) -> int:
        return bisect.bisect_right(self.line_starts, byte)

    def span(self, start: int, end: int) -> str:
        return self.source[start:end].decode("utf-8", "replace")

    def strip(self, start: int, end: int) -> tuple[int, int]:
        while start < end and self.source[start] in b" \t\r\n":
            start += 1
        while end > start and self.source[end - 1] in b" \t\r\n":
            end -= 1
        return start, end
