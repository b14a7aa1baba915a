"""Code chunked at function, class and method boundaries, in six languages."""

from __future__ import annotations

import pytest

from rag_plugins.chunking import StructureAwareChunker
from rag_plugins.code_chunking import CodeChunker
from rag_plugins.errors import InvalidDocumentError
from rag_plugins.ingest import load_path
from rag_plugins.types import Document
from tests.ingest.documents import PYTHON_MODULE


def split(source, language, size=200):
    document = Document("f", source, {"format": "code", "language": language})
    chunks = CodeChunker(size).split(document)
    for c in chunks:  # every chunk is the exact source span its offsets name
        assert source[c.metadata["char_start"]:c.metadata["char_end"]] == c.text
    return [(c.heading_path, c.metadata["line_start"], c.metadata["line_end"]) for c in chunks]


def test_python_nested_classes_methods_and_module_code(tmp_path):
    (tmp_path / "cache.py").write_text(PYTHON_MODULE)
    [document] = load_path(tmp_path / "cache.py")
    assert (document.metadata["format"], document.metadata["language"]) == ("code", "python")
    chunks = StructureAwareChunker(12).split(document)  # the store's chunker hands code to CodeChunker
    assert [(c.heading_path, c.metadata["line_start"], c.metadata["line_end"]) for c in chunks] == [
        ([], 1, 2),
        (["class Cache"], 5, 6),
        (["class Cache", "class Entry"], 8, 11),
        (["class Cache", "def get(self, key)"], 13, 14),
        (["def helper(x)"], 17, 18),  # the comment is not part of the signature
    ]
    assert chunks[2].text == ("class Entry:\n        def __init__(self, value):\n            self.value = value\n"
                              "            self.born = time.time()")
    assert chunks[3].contextual_text.startswith("cache.py > class Cache > def get(self, key)\n")
    whole = StructureAwareChunker(200).split(document)
    assert [(c.heading_path, c.metadata["line_start"]) for c in whole] == [
        ([], 1), (["class Cache"], 5), (["def helper(x)"], 17)]


def test_a_long_function_splits_at_statements_and_keeps_its_signature():
    body = "".join(f"    step_{i} = compute({i}, alpha, beta)\n" for i in range(12))
    source = f"def pipeline(alpha, beta):\n{body}    return step_11\n"
    chunks = split(source, "python", size=20)
    assert len(chunks) > 2 and all(path == ["def pipeline(alpha, beta)"] for path, _, _ in chunks)
    assert chunks[0][1] == 1 and chunks[-1][2] == 14
    assert all(a[2] + 1 == b[1] for a, b in zip(chunks, chunks[1:]))  # contiguous, no statement cut


def test_non_ascii_source_keeps_exact_character_offsets():
    chunks = split('"""Grüße."""\n\n\ndef größe(x):\n    return "ß" * x\n', "python", size=3)
    assert chunks[-1][0] == ["def größe(x)"]


SAMPLES = {
    "javascript": ("import x from 'y';\n\n// Adds two numbers.\nexport function add(a, b) {\n  return a + b;\n}\n\n"
                   "class Cache {\n  get(key) {\n    return this.m.get(key);\n  }\n}\n\nconst mul = (a, b) => {\n"
                   "  return a * b;\n};\n",
                   [([], 1, 1), (["function add(a, b)"], 3, 6), (["class Cache"], 8, 12),
                    (["const mul = (a, b) =>"], 14, 16)]),
    "typescript": ("interface Shape {\n  area(): number;\n}\n\nexport class Circle implements Shape {\n"
                   "  constructor(private r: number) {}\n  area(): number {\n    return Math.PI * this.r ** 2;\n"
                   "  }\n}\n",
                   [(["interface Shape"], 1, 3), (["class Circle implements Shape"], 5, 10)]),
    "go": ("package main\n\nimport \"fmt\"\n\n// Point is a point.\ntype Point struct {\n\tX, Y int\n}\n\n"
           "func (p Point) Norm() int {\n\treturn p.X*p.X + p.Y*p.Y\n}\n",
           [([], 1, 3), (["type Point struct"], 5, 8), (["func (p Point) Norm() int"], 10, 12)]),
    "java": ("package a;\n\n/** A cache. */\npublic class Cache<K, V> {\n    public V get(K key) {\n"
             "        return null;\n    }\n}\n",
             [([], 1, 1), (["public class Cache<K, V>"], 3, 8)]),
    "rust": ("use std::fmt;\n\n/// A point.\npub struct Point {\n    x: i32,\n}\n\nimpl Point {\n"
             "    fn norm(&self) -> i32 {\n        self.x * self.x\n    }\n}\n",
             [([], 1, 1), (["pub struct Point"], 3, 6), (["impl Point"], 8, 12)]),
}


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_definitions_in_every_language(language):
    source, expected = SAMPLES[language]
    assert split(source, language) == expected


def test_a_class_too_big_for_a_chunk_splits_into_its_members():
    source, _ = SAMPLES["rust"]
    assert split(source, "rust", size=10) == [([], 1, 1), (["pub struct Point"], 3, 6), (["impl Point"], 8, 8),
                                              (["impl Point", "fn norm(&self) -> i32"], 9, 11)]
    # the struct (10 words) no longer fits: whole lines, its closing brace kept with the lines above
    assert split(source, "rust", size=9)[1] == (["pub struct Point"], 3, 6)
    assert split(source, "rust", size=4)[1:4] == [(["pub struct Point"], 3, 3), (["pub struct Point"], 4, 4),
                                                  (["pub struct Point"], 5, 6)]


def test_binary_with_a_code_extension_is_refused(tmp_path):
    (tmp_path / "blob.py").write_bytes(b"\x00\x01\x02")
    with pytest.raises(InvalidDocumentError, match="binary, not python source"):
        load_path(tmp_path / "blob.py")
