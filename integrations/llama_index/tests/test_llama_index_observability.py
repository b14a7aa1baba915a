"""What LlamaIndex instrumentation sees: a ``SearchTraceEvent`` per search and rerank (route,
scores, confidence, timings), the route decision event, and the same facts in the nodes
of ``RetrievalEndEvent``."""

from __future__ import annotations

import pytest
from llama_index.core import get_response_synthesizer
from llama_index.core.instrumentation.events.retrieval import RetrievalEndEvent
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine

from llama_index.postprocessor.rag_plugins import RagPluginsRerank
from llama_index.retrievers.rag_plugins import RagPluginsRetriever, RouteDecisionEvent, SearchTraceEvent
from rag_plugins.confidence import AbstainingRetriever
from rag_plugins.rerank import CrossEncoderReranker
from rag_plugins.routing import RoutedRetriever


@pytest.mark.asyncio
async def test_a_query_engine_reports_route_scores_rerank_confidence_and_timings(
        instrumentation_events, routing_kb, tiny_cross_encoder, abstention_estimator):
    retriever = RagPluginsRetriever(AbstainingRetriever(RoutedRetriever(routing_kb), abstention_estimator,
                                                        abstain_below=0.0), similarity_top_k=3)
    rerank = RagPluginsRerank(CrossEncoderReranker(tiny_cross_encoder, device="cpu"), top_n=2)
    engine = RetrieverQueryEngine(retriever=retriever, node_postprocessors=[rerank],
                                  response_synthesizer=get_response_synthesizer(llm=MockLLM()))
    response = await engine.aquery("what does Error E4012 mean")  # three chunks say "error"

    searches = [e.record for e in instrumentation_events.of(SearchTraceEvent)]
    assert [s["retriever"] for s in searches] == ["routed", "RagPluginsRerank"]
    retrieval, reranking = searches
    assert retrieval["route"]["routes"] == {"bm25": 1.0} and retrieval["confidence"]["status"]
    assert {"retrieval", "total"} <= set(retrieval["timings"]) and len(retrieval["hits"]) == 3
    assert {"rerank", "total"} <= set(reranking["timings"]) and len(reranking["hits"]) == 2
    assert all("rerank" in h["scores"] and "routed" in h["scores"] for h in reranking["hits"])

    [ended] = instrumentation_events.of(RetrievalEndEvent)
    meta = ended.nodes[0].node.metadata
    assert meta["evidence"]["route"]["reasons"] == ['identifier "E4012" → bm25']
    assert 0.0 <= meta["confidence"] <= 1.0 and "total" in meta["timings"]
    assert "timings" in ended.nodes[0].node.excluded_llm_metadata_keys  # kept out of the prompt
    [route] = instrumentation_events.of(RouteDecisionEvent)
    assert route.decision == retrieval["route"]
    assert response.source_nodes[0].node.metadata["scores"]["rerank"] == reranking["hits"][0]["scores"]["rerank"]


@pytest.mark.asyncio
async def test_an_observed_retriever_logs_every_search_a_query_engine_makes(routing_kb, tmp_path):
    from rag_plugins.ops import RetrievalLog
    from rag_plugins.tracing import ObservedRetriever

    with RetrievalLog(tmp_path / "log.sqlite", store_queries=True) as log:
        retriever = RagPluginsRetriever(ObservedRetriever(RoutedRetriever(routing_kb), log), similarity_top_k=2)
        engine = RetrieverQueryEngine(retriever=retriever, response_synthesizer=get_response_synthesizer(llm=MockLLM()))
        response = await engine.aquery("what does Error E4012 mean")
        retriever.retrieve("refund policy")
        log.flush()
        rows = log.searches()
    assert [(r.query, r.retriever) for r in rows] == [("what does Error E4012 mean", "routed"),
                                                      ("refund policy", "routed")]
    assert rows[0].document_ids == [n.node.metadata["document_id"] for n in response.source_nodes]


def test_every_node_says_which_generation_of_the_base_it_came_from(routing_kb):
    nodes = RagPluginsRetriever(RoutedRetriever(routing_kb), similarity_top_k=2).retrieve("what does E4012 mean")
    assert nodes and all(n.node.metadata["generations"] == [routing_kb.generation] for n in nodes)
