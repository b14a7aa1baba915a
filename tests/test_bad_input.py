"""Every bad input gets a typed error that says what to do, and the base is left as it was."""

import math

import numpy as np
import pytest

from rag_plugins import Document, KnowledgeBase
from rag_plugins.errors import (
    DuplicateIdError,
    EmptyIndexError,
    InvalidDocumentError,
    InvalidEmbeddingError,
    InvalidFilterError,
    InvalidInputError,
    InvalidQueryError,
    UnknownFilterFieldError,
)
from tests.store.helpers import kb_state


@pytest.fixture
def kb(tmp_path, counting_embedder, corpus):
    base = KnowledgeBase.open(tmp_path / "kb", embedder=counting_embedder)
    base.upsert(corpus)
    base.commit()
    yield base
    base.close()


@pytest.mark.parametrize("query", ["", "   \n\t", None, 42])
def test_empty_or_non_string_query(kb, query):
    before = kb_state(kb)
    for retriever in (kb.bm25_retriever(), kb.dense_retriever(), kb.hybrid_retriever()):
        with pytest.raises(InvalidQueryError, match="query"):
            retriever.retrieve(query)
    assert kb_state(kb) == before


@pytest.mark.parametrize("k", [0, -3, 2.5, True])
def test_bad_k(kb, k):
    with pytest.raises(InvalidInputError, match="k must"):
        kb.hybrid_retriever().retrieve("cats", k=k)


def test_k_larger_than_corpus_is_defined(kb, corpus):
    hits = kb.dense_retriever().retrieve("cats", k=10_000)
    assert len(hits) == len(corpus)


def test_empty_corpus(tmp_path, embedder):
    kb = KnowledgeBase.open(tmp_path / "empty", embedder=embedder)
    assert kb.upsert([]).added == [] and kb.commit().generation == 0
    for retriever in (kb.bm25_retriever(), kb.dense_retriever(), kb.hybrid_retriever()):
        with pytest.raises(EmptyIndexError, match="upsert"):
            retriever.retrieve("anything")


def test_duplicate_ids_in_one_batch(kb):
    before = kb_state(kb)
    with pytest.raises(DuplicateIdError, match="x"):
        kb.upsert([Document("x", "one"), Document("y", "two"), Document("x", "three")])
    assert kb_state(kb) == before and not kb.has_pending_changes


@pytest.mark.parametrize("doc", [
    Document("x", 123), Document("x", None), Document("x", b"bytes"), Document("", "text"),
    Document("x", "ok", {"bad": object()}), Document("x", "ok", {"heading_path": ["reserved"]}),
    Document("x", "ok", {"n": math.nan}), {"id": "x"}, "just a string",
])
def test_malformed_documents(kb, doc):
    before = kb_state(kb)
    with pytest.raises(InvalidDocumentError):
        kb.upsert([Document("fine", "a valid document"), doc])
    assert kb_state(kb) == before and not kb.has_pending_changes


def test_nan_or_infinite_embeddings_abort_the_commit(kb, counting_embedder):
    before = kb_state(kb)
    counting_embedder.poison = {"POISON"}
    kb.upsert([Document("ok", "a healthy document"), Document("bad", "POISON text")])
    with pytest.raises(InvalidEmbeddingError, match="NaN or infinite"):
        kb.commit()
    assert kb_state(kb) | {"pending": False} == before | {"pending": False}
    assert "ok" not in [h.document_id for h in kb.bm25_retriever().retrieve("healthy", k=1)]
    kb.rollback()
    counting_embedder.poison = set()
    kb.upsert([Document("ok", "a healthy document")])
    kb.commit()
    assert kb.bm25_retriever().retrieve("healthy", k=1)[0].document_id == "ok"


@pytest.mark.parametrize("filters,error", [
    ({"colour": "red"}, UnknownFilterFieldError),
    ({"topic": {"$regex": "a"}}, InvalidFilterError),
    ({"topic": {"$in": "animals"}}, InvalidFilterError),
    ({"$xor": []}, InvalidFilterError),
    ("topic=animals", InvalidFilterError),
])
def test_bad_filters(kb, filters, error):
    before = kb_state(kb)
    for retriever in (kb.bm25_retriever(), kb.dense_retriever(), kb.hybrid_retriever()):
        with pytest.raises(error):
            retriever.retrieve("cats", filters=filters)
    assert kb_state(kb) == before


def test_unknown_filter_field_lists_the_known_ones(kb):
    with pytest.raises(UnknownFilterFieldError, match="topic"):
        kb.bm25_retriever().retrieve("cats", filters={"topc": "animals"})


def test_settings_cannot_change_after_creation(tmp_path, corpus):
    kb = KnowledgeBase.open(tmp_path / "kb", chunk_size=100)
    kb.close()
    with pytest.raises(InvalidInputError, match="chunk_size"):
        KnowledgeBase.open(tmp_path / "kb", chunk_size=50)


def test_upsert_of_a_single_document_is_a_clear_error(kb):
    with pytest.raises(InvalidInputError, match="wrap one document in a list"):
        kb.upsert(Document("x", "y"))


def test_bad_embedder_shape_is_refused(tmp_path, embedder):
    class Wrong:
        model_id, dimension, normalize, fingerprint = "wrong", 4, True, "f"

        def embed_documents(self, texts):
            return np.zeros((len(texts), 3), np.float32)

        embed_queries = embed_documents

    kb = KnowledgeBase.open(tmp_path / "w", embedder=Wrong())
    kb.upsert([Document("a", "text")])
    with pytest.raises(InvalidEmbeddingError, match="shape"):
        kb.commit()
    assert kb.generation == 0
