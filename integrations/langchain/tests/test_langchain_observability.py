"""What a LangChain callback sees at ``on_retriever_end``: the route decision, every
source's and the reranker's scores, the confidence and the timings, in the documents'
metadata."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.callbacks import BaseCallbackHandler

from langchain_rag_plugins import RagPluginsReranker, RagPluginsRetriever
from rag_plugins.confidence import AbstainingRetriever
from rag_plugins.rerank import CrossEncoderReranker, RerankedRetriever
from rag_plugins.routing import RoutedRetriever


class RetrieverEnds(BaseCallbackHandler):
    def __init__(self) -> None:
        self.documents: list[list[Any]] = []

    def on_retriever_end(self, documents, *, run_id, parent_run_id=None, **kwargs) -> None:
        self.documents.append(list(documents))


def test_on_retriever_end_carries_route_scores_rerank_confidence_and_timings(routing_kb, tiny_cross_encoder,
                                                                              abstention_estimator):
    pipeline = AbstainingRetriever(RerankedRetriever(RoutedRetriever(routing_kb),
                                                     CrossEncoderReranker(tiny_cross_encoder, device="cpu"), depth=5),
                                   abstention_estimator, abstain_below=0.0)
    handler = RetrieverEnds()
    returned = RagPluginsRetriever(retriever=pipeline, k=2).invoke("what does E4012 mean",
                                                                   config={"callbacks": [handler]})
    [seen] = handler.documents
    assert [d.metadata for d in seen] == [d.metadata for d in returned]
    meta = seen[0].metadata
    assert meta["evidence"]["route"]["routes"] == {"bm25": 1.0}
    assert meta["evidence"]["route"]["reasons"] == ['identifier "E4012" → bm25']
    assert {"bm25", "routed", "rerank"} <= set(meta["scores"]) and meta["ranks"]["rerank"] == 1
    assert 0.0 <= meta["confidence"] <= 1.0 and meta["status"] in {"healthy", "ambiguous", "low_confidence"}
    assert meta["timings"]["total"] >= meta["timings"]["retrieval"] > 0


def test_the_compressor_reports_rerank_timings_through_the_same_callbacks(routing_kb, tiny_cross_encoder):
    pipeline = ContextualCompressionRetriever(
        base_compressor=RagPluginsReranker(reranker=CrossEncoderReranker(tiny_cross_encoder, device="cpu"), top_n=2),
        base_retriever=RagPluginsRetriever(retriever=routing_kb.hybrid_retriever(), k=5))
    handler = RetrieverEnds()
    asyncio.run(pipeline.ainvoke("refunds within thirty days", config={"callbacks": [handler]}))
    inner, outer = handler.documents  # the base retriever ends first, then the compression retriever
    assert len(inner) == 5 and set(inner[0].metadata["timings"]) == {"retrieval", "total"}
    assert len(outer) == 2 and {"rerank", "total"} <= set(outer[0].metadata["timings"])
    assert all({"hybrid", "rerank"} <= set(d.metadata["scores"]) for d in outer)


def test_an_observed_retriever_logs_every_search_a_chain_makes(routing_kb, tmp_path):
    from rag_plugins.ops import RetrievalLog
    from rag_plugins.tracing import ObservedRetriever

    with RetrievalLog(tmp_path / "log.sqlite", store_queries=True) as log:
        retriever = RagPluginsRetriever(retriever=ObservedRetriever(RoutedRetriever(routing_kb), log), k=2)
        returned = retriever.invoke("what does E4012 mean")
        asyncio.run(retriever.ainvoke("refund policy"))
        log.flush()
        rows = log.searches()
    assert [(r.query, r.retriever) for r in rows] == [("what does E4012 mean", "routed"), ("refund policy", "routed")]
    assert rows[0].document_ids == [d.metadata["document_id"] for d in returned]
    assert rows[0].route["routes"] == {"bm25": 1.0}


def test_every_document_says_which_generation_of_the_base_it_came_from(routing_kb):
    docs = RagPluginsRetriever(retriever=RoutedRetriever(routing_kb), k=2).invoke("what does E4012 mean")
    assert docs and all(d.metadata["generations"] == [routing_kb.generation] for d in docs)
