import numpy as np
import pytest

from rag_plugins import Document, KnowledgeBase
from rag_plugins.errors import InvalidInputError
from rag_plugins.rerank import MMRReranker, RerankedRetriever
from rag_plugins.rerank.mmr import mmr_order

DOCS = [
    Document("solar-a", "Solar panels convert sunlight into electricity using photovoltaic cells."),
    Document("solar-b", "Solar panels convert sunlight into electricity with photovoltaic cells."),
    Document("wind", "Wind turbines generate electricity from moving air."),
    Document("bread", "Sourdough bread rises thanks to wild yeast."),
]


@pytest.fixture
def kb(tmp_path, counting_embedder):
    base = KnowledgeBase.open(tmp_path / "kb", embedder=counting_embedder)
    base.upsert(DOCS)
    base.commit()
    counting_embedder.document_calls.clear()
    return base


def test_mmr_drops_the_near_duplicate_and_reuses_stored_vectors(kb, counting_embedder):
    hits = kb.dense_retriever().retrieve("solar panels electricity", k=4)
    assert {h.document_id for h in hits[:2]} == {"solar-a", "solar-b"}
    diverse = MMRReranker(kb, lambda_=0.5).rerank("solar panels electricity", hits, top_n=2)
    assert {h.document_id for h in diverse} == {hits[0].document_id, "wind"}
    assert [h.ranks["mmr"] for h in diverse] == [1, 2] and diverse[0].scores["mmr"] >= diverse[1].scores["mmr"]
    assert all("dense" in h.scores for h in diverse)
    assert counting_embedder.document_calls == []  # the knowledge base's vectors were reused
    pure = MMRReranker(kb, lambda_=1.0).rerank("solar panels electricity", hits)
    assert [h.chunk.id for h in pure] == [h.chunk.id for h in hits]  # lambda 1 = relevance order


def test_mmr_with_an_embedder_and_score_relevance(kb, embedder):
    hits = kb.dense_retriever().retrieve("solar panels electricity", k=4)
    with_embedder = MMRReranker(embedder, lambda_=0.5).rerank("solar panels electricity", hits, top_n=2)
    assert {h.document_id for h in with_embedder} == {hits[0].document_id, "wind"}
    by_score = MMRReranker(kb, lambda_=0.5, relevance="score").rerank("solar panels electricity", hits, top_n=2)
    assert by_score[0].chunk.id == hits[0].chunk.id and by_score[1].document_id != hits[1].document_id
    pipeline = RerankedRetriever(kb.dense_retriever(), MMRReranker(kb, lambda_=0.5), depth=4)
    assert {h.document_id for h in pipeline.retrieve("solar panels electricity", k=2)} == {hits[0].document_id, "wind"}


def test_mmr_order_and_bad_settings(tmp_path):
    sim = np.eye(3)
    assert mmr_order(np.array([0.2, 0.9, 0.5]), sim, 0.7, 3)[0] == [1, 2, 0]
    with pytest.raises(InvalidInputError):
        MMRReranker(object())
    bm25_only = KnowledgeBase.open(tmp_path / "bm25")
    with pytest.raises(InvalidInputError):
        MMRReranker(bm25_only, lambda_=1.5)
    with pytest.raises(InvalidInputError):
        MMRReranker(bm25_only, relevance="magic")
