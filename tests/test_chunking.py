import pytest

from rag_plugins.chunking import StructureAwareChunker, count_words
from rag_plugins.errors import InvalidInputError
from rag_plugins.types import Document

MARKDOWN = """# Guide

Intro paragraph with a few words.

## Install

- step one is here
- step two is here
  with a continuation line

| col a | col b |
|-------|-------|
| 1     | 2     |

```python
def f():

    return 1
```

## Usage

Use it wisely. Then stop.
"""


def split(text, **kw):
    return StructureAwareChunker(**kw).split(Document("doc", text))


def test_blocks_are_never_cut_when_they_fit():
    chunks = split(MARKDOWN, chunk_size=15)  # list: 14 words, table: 13, code: 6
    texts = [c.text for c in chunks]
    assert "- step one is here\n- step two is here\n  with a continuation line" in texts
    assert any(t.startswith("| col a") and t.endswith("| 1     | 2     |") for t in texts)
    code = [t for t in texts if t.startswith("```python")]
    assert code == ["```python\ndef f():\n\n    return 1\n```\n"]  # the blank line inside stays


def test_heading_path_position_and_spans():
    chunks = split(MARKDOWN, chunk_size=200)
    assert [c.heading_path for c in chunks] == [["Guide"], ["Guide", "Install"], ["Guide", "Usage"]]
    assert [c.position for c in chunks] == [0, 1, 2]
    assert all(c.document_id == "doc" and c.id == f"doc#{c.position}" for c in chunks)
    for c in chunks:
        assert MARKDOWN[c.metadata["char_start"]: c.metadata["char_end"]] == c.text


def test_chunks_never_span_sections():
    chunks = split(MARKDOWN, chunk_size=1000)
    assert len(chunks) == 3


def test_oversize_paragraph_falls_back_to_sentences_then_words():
    sentences = " ".join(f"Sentence {i} has exactly six words." for i in range(10))
    chunks = split(sentences, chunk_size=13)
    assert all(count_words(c.text) <= 13 for c in chunks)
    assert all(c.text.endswith("words.") for c in chunks)  # cut at sentence ends
    long_sentence = " ".join(f"w{i}" for i in range(50))
    chunks = split(long_sentence, chunk_size=20)
    assert [count_words(c.text) for c in chunks] == [20, 20, 10]
    assert " ".join(c.text for c in chunks) == long_sentence


def test_oversize_code_block_is_cut_at_lines():
    code = "```\n" + "\n".join(f"x{i} = {i} + {i}" for i in range(30)) + "\n```"
    chunks = split(code, chunk_size=25)
    assert len(chunks) > 1
    assert all(count_words(c.text) <= 25 for c in chunks)
    assert all(not c.text.endswith("+") for c in chunks)  # no line cut in the middle


def test_overlap_repeats_trailing_units():
    text = " ".join(f"Sentence {i} is short." for i in range(12))
    chunks = split(text, chunk_size=12, chunk_overlap=4)
    for prev, nxt in zip(chunks, chunks[1:]):
        last_sentence = prev.text.rsplit(".", 2)[-2].strip() + "."
        assert nxt.text.startswith(last_sentence)
    plain = split(text, chunk_size=12)
    assert len(chunks) > len(plain)


def test_token_counter_sets_the_unit(embedder):
    chunker = StructureAwareChunker(chunk_size=16, token_counter=embedder.count_tokens)
    text = "Antidisestablishmentarianism notwithstanding, " * 20
    chunks = chunker.split(Document("t", text, {"format": "text"}))
    assert chunker.unit == "tokens"
    assert all(embedder.count_tokens(c.text) <= 16 for c in chunks)
    assert len(chunks) > len(StructureAwareChunker(chunk_size=16).split(Document("t", text)))


def test_plain_text_ignores_markdown_syntax():
    text = "# not a heading\n\nbody"
    chunks = StructureAwareChunker(chunk_size=50).split(Document("t", text, {"format": "text"}))
    assert chunks[0].heading_path == [] and chunks[0].text.startswith("# not a heading")


def test_empty_document_has_no_chunks():
    assert split("   \n\n ") == []


@pytest.mark.parametrize("kwargs", [{"chunk_size": 0}, {"chunk_size": 10, "chunk_overlap": 10}, {"chunk_size": "5"}])
def test_bad_settings_are_rejected(kwargs):
    with pytest.raises(InvalidInputError):
        StructureAwareChunker(**kwargs)
