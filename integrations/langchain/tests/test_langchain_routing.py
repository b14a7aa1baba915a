"""Routing through LangChain: the decision in callbacks and metadata, a chat model as the
router (LangChain's own fake models), and one tool per route for agents."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import ToolCall
from langchain_rag_plugins import (
    ROUTE_EVENT,
    ChatModelRouter,
    RagPluginsRetriever,
    route_tools,
)

from rag_plugins.routing import QueryFeatures, RoutedRetriever
from rag_plugins.tools import read_passages


class Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.ended: list = []

    def on_custom_event(self, name, data, *, run_id, tags=None, metadata=None, **kwargs) -> None:
        self.events.append((name, data))

    def on_retriever_end(self, documents, *, run_id, parent_run_id=None, **kwargs) -> None:
        self.ended.append(documents)


def test_the_route_decision_reaches_callbacks_and_document_metadata(adapter_kb):
    retriever = RagPluginsRetriever(retriever=RoutedRetriever(adapter_kb), k=1)
    recorder = Recorder()
    docs = retriever.invoke("what does BM25 stand for", config={"callbacks": [recorder]})
    [(name, data)] = recorder.events
    assert name == ROUTE_EVENT == "rag_plugins_route"
    assert data["query"] == "what does BM25 stand for"
    assert data["routes"] == {"bm25": 1.0} and data["router"] == "rules"
    assert data["reasons"] == ['identifier "BM25" → bm25']
    assert set(data["timings"]) == {"routing", "retrieval", "total"}
    assert docs[0].metadata["evidence"]["route"]["routes"] == {"bm25": 1.0}
    assert recorder.ended[0][0].metadata["evidence"]["route"]["reasons"] == data["reasons"]

    async_recorder = Recorder()
    asyncio.run(retriever.ainvoke("sourdough starter", config={"callbacks": [async_recorder]}))
    assert async_recorder.events[0][1]["router"] == "rules"


def test_a_chat_model_routes_and_invalid_answers_fall_back_to_the_rules(adapter_kb):
    routes = ("bm25", "dense", "hybrid")
    model = FakeListChatModel(responses=['{"route": "dense", "reason": "a paraphrase", "confidence": 0.9}',
                                         "Let me think about which search to use..."])
    router = ChatModelRouter(model)  # the fake model has no tool calling: JSON text
    good = router.decide(QueryFeatures.of("how is bread made"), routes)
    assert (good.route, good.router, good.reasons) == ("dense", "llm", ("llm: a paraphrase",))
    bad = router.decide(QueryFeatures.of("what does E4012 mean"), routes)
    assert bad.router == "rules" and bad.route == "bm25"
    assert bad.fallback.startswith("LLM answer invalid: no JSON object")
    hits = RoutedRetriever(adapter_kb, router).retrieve("how is bread made", k=1)  # cached: no third call
    assert hits[0].document_id == "bread" and hits[0].evidence["route"]["router"] == "llm"


def test_one_tool_per_route_returns_text_for_the_model_and_documents_as_artifact(adapter_kb):
    tools = route_tools(RoutedRetriever(adapter_kb), k=2)
    assert [t.name for t in tools] == ["search_bm25", "search_dense", "search_hybrid"]
    assert "exact identifiers" in tools[0].description and "paraphrased" in tools[1].description
    assert set(tools[0].args) == {"query", "k", "filters"}
    message = tools[0].invoke(ToolCall(name="search_bm25", args={"query": "BM25 frequency", "k": 1}, id="c1",
                                       type="tool_call"))
    assert read_passages(message.content)[0]["source"] == "bm25#0"
    assert read_passages(message.content)[0]["text"].startswith("BM25 ranks documents")
    assert [d.id for d in message.artifact] == ["bm25#0"]
    dense = asyncio.run(tools[1].ainvoke(ToolCall(name="search_dense", args={"query": "loaf of bread"}, id="c2",
                                                  type="tool_call")))
    assert dense.artifact[0].metadata["document_id"] == "bread" and dense.artifact[0].metadata["provenance"] == ["dense"]


def test_a_tool_calling_model_answers_through_structured_output():
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration, ChatResult
    from langchain_core.utils.function_calling import convert_to_openai_tool

    class ToolCallingModel(BaseChatModel):
        tools_seen: list = []

        @property
        def _llm_type(self) -> str:
            return "scripted-tools"

        def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
            return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

        def _generate(self, messages, stop=None, run_manager=None, tools=None, **kwargs) -> ChatResult:
            self.tools_seen.append([t["function"]["name"] for t in tools or []])
            call = {"name": "RouteChoice", "args": {"route": "graph", "reason": "relation", "confidence": 0.95},
                    "id": "call-1"}
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content="", tool_calls=[call]))])

    model = ToolCallingModel(tools_seen=[])
    decision = ChatModelRouter(model).decide(QueryFeatures.of("How is X related to Y?"), ("bm25", "graph"))
    assert (decision.route, decision.confidence, decision.router) == ("graph", 0.95, "llm")
    assert model.tools_seen == [["RouteChoice"]]
