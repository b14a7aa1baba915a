"""k distinct documents: each document's best chunk, widening the request when one long
document fills the first list, the same one query at a time and batched."""

from __future__ import annotations

import pytest

from rag_plugins import Document, KnowledgeBase
from rag_plugins.errors import InvalidInputError
from rag_plugins.retrievers import DistinctDocuments


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    base = KnowledgeBase.open(tmp_path_factory.mktemp("distinct"), chunk_size=8)
    base.upsert([Document("manual", "pump pressure valve check. " * 40)]  # 20 chunks about pumps
                + [Document(f"note-{w}", f"pump note {w} mentions the pump once.")
                   for w in ("alpha", "bravo", "charlie", "delta", "echo")])
    base.commit()
    yield base
    base.close()


def test_each_document_once_best_chunk_first(kb):
    chunks = kb.bm25_retriever().retrieve("pump pressure", k=5)
    assert {h.document_id for h in chunks} == {"manual"}  # one long document fills a chunk top 5
    distinct = DistinctDocuments(kb.bm25_retriever(), depth=1)  # 5 chunks first: all "manual", so it widens
    hits = distinct.retrieve("pump pressure", k=4)
    assert [h.document_id for h in hits][0] == "manual" and len({h.document_id for h in hits}) == 4 == len(hits)
    assert hits[0].chunk.id == chunks[0].chunk.id  # the document's best chunk
    batched = distinct.batch_retrieve(["pump pressure", "note charlie"], k=4)
    assert [h.chunk.id for h in batched[0]] == [h.chunk.id for h in hits]
    assert batched[1][0].document_id == "note-charlie"


def test_fewer_documents_than_k_returns_what_there_is(kb):
    assert len(DistinctDocuments(kb.bm25_retriever()).retrieve("pump", k=50)) == 6
    with pytest.raises(InvalidInputError, match="depth must be a positive integer"):
        DistinctDocuments(kb.bm25_retriever(), depth=0)
