"""Iterative retrieval through LangChain, with LangChain's own fake chat models scripted so
retrieval must trigger: the queries issued, the stop conditions, abstention, the trace."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    FakeMessagesListChatModel,
)
from langchain_core.messages import AIMessage, ToolCall
from langchain_rag_plugins import (
    PROVENANCE_EVENT,
    STEP_EVENT,
    IterativeRetrievalRunnable,
    LangChainGenerator,
    LangChainRetrieverAdapter,
    RagPluginsRetriever,
    iterative_tool,
)

from rag_plugins.confidence import AbstentionPolicy
from rag_plugins.generation import GenerationRequest
from rag_plugins.iterative import AdaptiveRetrieval, FlareRetrieval, IterRetGen
from tests.iterative.multihop_data import BRIDGE, QUESTION, build_kb


@pytest.fixture(scope="module")
def multihop_kb(tmp_path_factory):
    return build_kb(tmp_path_factory.mktemp("lc-multihop"))


def message(text: str, *probabilities: tuple[str, float]) -> AIMessage:
    """An AIMessage carrying OpenAI-style logprobs, as ChatOpenAI(logprobs=True) returns."""
    content = [{"token": t, "logprob": math.log(p), "bytes": None, "top_logprobs": []} for t, p in probabilities]
    return AIMessage(content=text, response_metadata={"logprobs": {"content": content}})


class StepRecorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_custom_event(self, name, data, *, run_id, tags=None, metadata=None, **kwargs) -> None:
        self.events.append((name, data))


def test_iter_retgen_runnable_streams_steps_and_reports_every_iteration(multihop_kb):
    model = FakeListChatModel(responses=[BRIDGE, "Chief of Protocol"])
    chain = IterativeRetrievalRunnable(IterRetGen(multihop_kb.bm25_retriever(), LangChainGenerator(model),
                                                  iterations=2, k=3))
    recorder = StepRecorder()
    events = list(chain.stream(QUESTION, config={"callbacks": [recorder]}))
    assert [e["event"] for e in events] == ["retrieval", "generation", "retrieval", "generation", "result"]
    assert [e["query"] for e in events if e["event"] == "retrieval"] == [QUESTION, f"{QUESTION} {BRIDGE}"]
    assert events[1]["generation"] == BRIDGE and events[3]["generation"] == "Chief of Protocol"
    result = events[-1]
    assert result["answer"] == "Chief of Protocol" and result["stop_reason"] == "max_iterations"
    ids = [d.metadata["document_id"] for d in result["documents"]]
    assert "kiss" in ids and "temple" in ids
    assert [name for name, _ in recorder.events] == [STEP_EVENT] * 4 + [PROVENANCE_EVENT]
    assert recorder.events[2][1]["query"] == f"{QUESTION} {BRIDGE}"
    provenance = recorder.events[-1][1]  # which memory, retriever, chunks and generation the answer came from
    assert provenance == {"question": QUESTION, **result["provenance"]}
    assert provenance["memory"] == "retrieval" and provenance["retriever"] == "bm25"
    assert provenance["generations"] == [multihop_kb.generation] and "temple#0" in provenance["chunks"]

    invoked = chain.invoke({"question": QUESTION, "k": 2})
    assert invoked["queries"] == [QUESTION, f"{QUESTION} {BRIDGE}"] and len(invoked["steps"]) == 4
    assert all(len(s["documents"]) <= 2 for s in invoked["steps"] if s["event"] == "retrieval")

    async def run_async() -> tuple[dict, list[dict]]:
        streamed = [e async for e in chain.astream(QUESTION)]
        return await chain.ainvoke(QUESTION), streamed

    ainvoked, astreamed = asyncio.run(run_async())
    assert ainvoked["queries"] == invoked["queries"] and astreamed[-1]["event"] == "result"
    with pytest.raises(TypeError, match="question"):
        chain.invoke(42)


def test_iteration_stops_when_the_model_repeats_itself(multihop_kb):
    model = FakeListChatModel(responses=[BRIDGE])  # the same answer every time
    out = IterativeRetrievalRunnable(IterRetGen(multihop_kb.bm25_retriever(), LangChainGenerator(model),
                                                iterations=4, k=3)).invoke(QUESTION)
    assert out["stop_reason"] == "answer_unchanged" and len(out["queries"]) == 2


def test_flare_triggers_on_logprobs_from_response_metadata(multihop_kb):
    unsure = message("She became Ambassador of Peru.", ("She", 0.9), (" became", 0.9), (" Ambassador", 0.1),
                     (" of", 0.9), (" Peru", 0.1), (".", 0.99))
    sure = message("She served as Chief of Protocol.", ("She served as Chief of Protocol.", 0.95))
    done = message("", )
    model = FakeMessagesListChatModel(responses=[unsure, sure, done])
    generator = LangChainGenerator(model)
    assert generator.generate(GenerationRequest("q")).min_probability == pytest.approx(0.1)
    model.i = 0
    chain = IterativeRetrievalRunnable(FlareRetrieval(multihop_kb.bm25_retriever(), generator, threshold=0.5, k=3))
    out = chain.invoke(QUESTION)
    retrievals = [s for s in out["steps"] if s["event"] == "retrieval"]
    assert [s["reason"] for s in retrievals] == ["initial", "low_probability"]
    assert retrievals[1]["query"] == f"{QUESTION} She became of."
    assert out["answer"] == "She served as Chief of Protocol." and out["stop_reason"] == "finished"


def test_adaptive_gate_skips_or_abstains(abstention_kb, abstention_estimator):
    sure = message("Paris.", ("Paris", 0.97), (".", 0.99))
    gate = AdaptiveRetrieval(abstention_kb.bm25_retriever(), LangChainGenerator(FakeMessagesListChatModel(responses=[sure])),
                             skip_above=0.9)
    recorder = StepRecorder()
    skipped = IterativeRetrievalRunnable(gate).invoke("capital of France", config={"callbacks": [recorder]})
    assert skipped["path"] == "skipped" and skipped["queries"] == [] and skipped["answer"] == "Paris."
    assert skipped["provenance"]["memory"] == "parametric" and skipped["provenance"]["chunks"] == []
    assert recorder.events[-1] == (PROVENANCE_EVENT, {"question": "capital of France", **skipped["provenance"]})

    unsure = FakeListChatModel(responses=["I think it is tall"])  # no logprobs: the gate retrieves
    policy = AbstentionPolicy(abstention_estimator)
    guarded = AdaptiveRetrieval(abstention_kb.bm25_retriever(), LangChainGenerator(unsure), policy=policy)
    out = IterativeRetrievalRunnable(guarded).invoke("medieval falconry techniques")
    assert out["abstained"] and out["path"] == "abstained" and "Insufficient evidence" in out["answer"]
    assert out["documents"] == [] and out["stop_reason"] == "insufficient_evidence"
    assert [s["reason"] for s in out["steps"]] == ["closed_book", "initial"]
    assert guarded.path_rates()["abstained"] == 1.0


def test_agent_tool_and_any_langchain_retriever(multihop_kb):
    base = LangChainRetrieverAdapter(RagPluginsRetriever(retriever=multihop_kb.bm25_retriever(), k=3))
    pipeline = IterRetGen(base, LangChainGenerator(FakeListChatModel(responses=[BRIDGE, "Chief of Protocol"])),
                          iterations=2, k=3)
    tool = iterative_tool(pipeline)
    assert tool.name == "multi_hop_search" and set(tool.args) == {"query", "k"}
    call = ToolCall(name=tool.name, args={"query": QUESTION}, id="call-1", type="tool_call")
    reply = tool.invoke(call)
    assert "Searches made: " + QUESTION in reply.content and f"{QUESTION} {BRIDGE}" in reply.content
    assert "<passage " in reply.content
    assert "Draft answer (derived from the passages; verify against them): Chief of Protocol" in reply.content
    assert {d.metadata["document_id"] for d in reply.artifact} >= {"kiss", "temple"}
    areply = asyncio.run(tool.ainvoke(call))
    assert areply.content.count("<passage ") == reply.content.count("<passage ") > 0
