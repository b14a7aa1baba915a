import asyncio

import pytest
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.documents import Document as LCDocument

from langchain_rag_plugins import RagPluginsReranker, RagPluginsRetriever
from rag_plugins.confidence import INSUFFICIENT_EVIDENCE, AbstainingRetriever
from rag_plugins.rerank import CrossEncoderReranker
from tests.abstention_data import TOPICS


def test_reranker_in_a_contextual_compression_retriever(abstention_kb, tiny_cross_encoder):
    reranker = CrossEncoderReranker(tiny_cross_encoder, device="cpu")
    pipeline = ContextualCompressionRetriever(
        base_compressor=RagPluginsReranker(reranker=reranker, top_n=3),
        base_retriever=RagPluginsRetriever(retriever=abstention_kb.bm25_retriever(), k=8),
    )
    query = "the Eiffel Tower, the longest river or the highest mountain"  # three BM25 hits to rerank
    docs = pipeline.invoke(query)
    assert len(docs) == 3 and all(isinstance(d, LCDocument) for d in docs)
    direct = reranker.rerank(query, abstention_kb.bm25_retriever().retrieve(query, k=8), top_n=3)
    assert [d.id for d in docs] == [h.chunk.id for h in direct]
    for doc, hit in zip(docs, direct):  # the first stage's scores survive, the rerank score is added
        assert doc.metadata["scores"] == pytest.approx(dict(hit.scores))
        assert doc.metadata["ranks"]["bm25"] == hit.ranks["bm25"] and doc.metadata["score"] == pytest.approx(hit.score)
    assert [d.id for d in asyncio.run(pipeline.ainvoke(query))] == [d.id for d in docs]


def test_documents_from_elsewhere_are_reranked_too(tiny_cross_encoder):
    compressor = RagPluginsReranker(reranker=CrossEncoderReranker(tiny_cross_encoder, device="cpu"), top_n=2)
    docs = [LCDocument(page_content=t, metadata={"source": k}) for k, t in TOPICS.items()]
    out = compressor.compress_documents(docs, "largest planet")
    assert len(out) == 2 and {"source", "scores", "ranks"} <= set(out[0].metadata)
    assert set(out[0].metadata["scores"]) == {"input", "rerank"} and docs[0].metadata == {"source": "eiffel"}


def test_abstention_in_both_the_retriever_and_the_compressor(abstention_kb, abstention_estimator, tiny_cross_encoder):
    guarded = RagPluginsRetriever(retriever=AbstainingRetriever(abstention_kb.bm25_retriever(), abstention_estimator), k=10)
    answered = guarded.invoke("how tall is the Eiffel Tower")
    assert answered[0].metadata["document_id"] == "eiffel" and answered[0].metadata["abstained"] is False
    assert 0.5 <= answered[0].metadata["confidence"] <= 1.0
    refused = guarded.invoke("chess opening theory")
    assert len(refused) == 1 and refused[0].page_content == INSUFFICIENT_EVIDENCE
    assert refused[0].metadata["abstained"] is True and refused[0].metadata["status"] == "low_confidence"
    assert asyncio.run(guarded.ainvoke("chess opening theory"))[0].metadata["abstained"] is True

    class KeepOrder:  # any reranker works with the confidence policy; this one keeps BM25's order
        name = "keep"

        def rerank(self, query, hits, top_n=None):
            return list(hits)[:top_n]

    compressor = RagPluginsReranker(reranker=KeepOrder(), top_n=10, confidence=abstention_estimator)
    base = RagPluginsRetriever(retriever=abstention_kb.bm25_retriever(), k=10)
    assert compressor.compress_documents(base.invoke("chess opening theory"), "chess opening theory")[0].metadata["abstained"]
    kept = compressor.compress_documents(base.invoke("how tall is the Eiffel Tower"), "how tall is the Eiffel Tower")
    assert kept[0].metadata["document_id"] == "eiffel" and kept[0].metadata["status"] in ("healthy", "ambiguous")
