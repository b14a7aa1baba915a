"""Routing through LlamaIndex: the decision as an instrumentation event and in node
metadata, an LLM as the router (LlamaIndex's MockLLM and a scripted LLM), route tools."""

from __future__ import annotations

import asyncio
from typing import Any

from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.llms.mock import MockLLM
from llama_index.retrievers.rag_plugins import (
    LLMRouterForLlamaIndex,
    RagPluginsRetriever,
    RouteDecisionEvent,
    route_tools,
)

from rag_plugins.routing import QueryFeatures, RoutedRetriever
from rag_plugins.tools import read_passages

ROUTES = ("bm25", "dense", "hybrid")


class ScriptedLLM(CustomLLM):
    answer: str = '{"route": "dense", "reason": "a paraphrase"}'
    prompts: list = []

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="scripted")

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self.prompts.append(prompt)
        return CompletionResponse(text=self.answer)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any):
        yield self.complete(prompt)


def test_the_route_decision_is_an_instrumentation_event_and_node_metadata(adapter_kb, instrumentation_events):
    retriever = RagPluginsRetriever(RoutedRetriever(adapter_kb), similarity_top_k=1)
    nodes = retriever.retrieve("what does BM25 stand for")
    asyncio.run(retriever.aretrieve("sourdough starter"))
    first, second = instrumentation_events.of(RouteDecisionEvent)
    assert first.query == "what does BM25 stand for"
    assert first.decision["routes"] == {"bm25": 1.0} and first.decision["reasons"] == ['identifier "BM25" → bm25']
    assert set(first.timings) == {"routing", "retrieval", "total"} and second.query == "sourdough starter"
    assert nodes[0].node.metadata["evidence"]["route"] == first.decision
    assert "evidence" in nodes[0].node.excluded_llm_metadata_keys


def test_an_llm_routes_and_mock_llm_output_falls_back_to_the_rules():
    mock = LLMRouterForLlamaIndex(MockLLM())  # echoes the prompt: not a route choice
    decision = mock.decide(QueryFeatures.of("what does E4012 mean"), ROUTES)
    assert decision.router == "rules" and decision.route == "bm25"
    assert decision.fallback.startswith("LLM answer invalid")
    llm = ScriptedLLM(prompts=[])
    good = LLMRouterForLlamaIndex(llm).decide(QueryFeatures.of("how is bread made"), ROUTES)
    assert (good.route, good.router, good.reasons) == ("dense", "llm", ("llm: a paraphrase",))
    assert "Query: how is bread made" in llm.prompts[0]
    bad = LLMRouterForLlamaIndex(ScriptedLLM(prompts=[], answer='{"route": "web"}'))
    assert "route 'web' is not one of" in bad.decide(QueryFeatures.of("x"), ROUTES).fallback


def test_one_function_tool_per_route(adapter_kb):
    tools = route_tools(RoutedRetriever(adapter_kb), k=1)
    assert [t.metadata.name for t in tools] == ["search_bm25", "search_dense", "search_hybrid"]
    assert "exact identifiers" in tools[0].metadata.description
    output = tools[1].call(query="loaf of bread")
    assert read_passages(output.content)[0]["source"] == "bread#0"
    assert read_passages(output.content)[0]["text"].startswith("Sourdough bread")
    assert output.raw_output[0].node.metadata["provenance"] == ["dense"]
    aoutput = asyncio.run(tools[0].acall(query="BM25"))
    assert read_passages(aoutput.content)[0]["source"] == "bm25#0"
