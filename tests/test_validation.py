"""Issue 15.8: any str Python can hold round-trips or gets a typed error; any integral k
(numpy's too) is accepted."""

import json

import numpy as np
import pytest

from rag_plugins import Document, KnowledgeBase
from rag_plugins._validation import check_k
from rag_plugins.errors import InvalidDocumentError, InvalidFilterError, InvalidInputError, InvalidQueryError
from rag_plugins.loaders import load_file
from rag_plugins.tools.search import SearchTool
from rag_plugins.tracing import traced_search
from tests.store.helpers import kb_state


@pytest.fixture(scope="module")
def kb(tmp_path_factory, embedder):
    from tests.conftest import CORPUS

    base = KnowledgeBase.open(tmp_path_factory.mktemp("kb"), embedder=embedder)
    base.upsert(CORPUS)
    base.commit()
    yield base
    base.close()


@pytest.mark.parametrize("doc,where", [
    (Document("bad\udc80id", "text"), "document id"),
    (Document("x", "text with a lone \ud800 surrogate"), "text of document 'x'"),
    (Document("x", "ok", {"ke\udcffy": 1}), "a key of metadata"),
    (Document("x", "ok", {"a": {"b": ["fine", "\udfff"]}}), r"metadata of document 'x'\['a'\]\['b'\]\[1\]"),
    ({"id": "x", "text": "ok", "metadata": {"t": "\udc80"}}, r"\['t'\]"),
])
def test_lone_surrogates_in_documents_are_typed_errors(kb, doc, where):
    before = kb_state(kb)
    with pytest.raises(InvalidDocumentError, match=f"{where}.*lone surrogate"):
        kb.upsert([Document("fine", "a valid document"), doc])
    assert kb_state(kb) == before and not kb.has_pending_changes


def test_unusual_but_valid_text_round_trips(kb):
    odd = "NUL \x00, BOM \ufeff, line sep \u2028, astral \U0001f600 \U0001d518, combining e\u0301"
    kb.upsert([Document(odd, odd, {odd: [odd, {odd: odd}]})])
    kb.commit()
    assert kb.get(odd) == Document(odd, odd, {odd: [odd, {odd: odd}]})


def test_lone_surrogates_in_queries_and_filters_are_typed_errors(kb):
    for retriever in (kb.bm25_retriever(), kb.dense_retriever(), kb.hybrid_retriever()):
        with pytest.raises(InvalidQueryError, match="query has a lone surrogate"):
            retriever.retrieve("cats \udc80")
        with pytest.raises(InvalidFilterError, match="lone surrogate"):
            retriever.retrieve("cats", filters={"topic": "animals\udc80"})
        with pytest.raises(InvalidFilterError, match="lone surrogate"):
            retriever.retrieve("cats", filters={"topic": {"$in": ["x", "\ud800"]}})


def test_files_with_invalid_utf8_or_surrogate_escapes(tmp_path, kb):
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(InvalidDocumentError, match="not valid UTF-8.*iconv"):
        list(load_file(latin))
    rows = tmp_path / "rows.jsonl"
    rows.write_bytes(b'{"id": "a", "text": "ok"}\n{"id": "b", "text": "caf\xe9"}\n')
    with pytest.raises(InvalidDocumentError, match="rows.jsonl:2 is not valid UTF-8"):
        list(load_file(rows))
    escaped = tmp_path / "escaped.jsonl"
    escaped.write_text(json.dumps({"id": "a", "text": "half a pair: \ud83d"}) + "\n")
    with pytest.raises(InvalidDocumentError, match="lone surrogate"):
        kb.upsert(list(load_file(escaped)))


@pytest.mark.parametrize("k", [np.int64(2), np.int32(2), np.uint8(2), 2])
def test_any_integral_k_is_accepted(kb, k):
    for retriever in (kb.bm25_retriever(), kb.dense_retriever(), kb.hybrid_retriever(method="convex")):
        assert len(retriever.retrieve("cats and dogs", k=k)) == 2
        assert [len(h) for h in retriever.batch_retrieve(["cats and dogs", "dogs and cats"], k=k)] == [2, 2]
    assert len(traced_search(kb.bm25_retriever(), "cats and dogs", k=k).hits) == 2
    assert type(check_k(k)) is int


def test_tools_take_numpy_ints_and_stay_json(kb):
    tool = SearchTool("search", kb.hybrid_retriever(), "Search.", k=np.int64(3), max_k=np.int64(5))
    json.dumps(tool.spec.openai())
    assert len(tool.run({"query": "cats", "k": np.int64(2)}).hits) == 2
    assert len(tool.run({"query": "cats"}).hits) == 3


@pytest.mark.parametrize("k", [True, 2.0, np.float64(2.0), "2", None])
def test_non_integral_k_is_still_refused(k):
    with pytest.raises(InvalidInputError, match="k must be an int"):
        check_k(k)
