"""Iterative retrieval as a LlamaIndex query engine, with a scripted LLM (LlamaIndex's own
CustomLLM base) and MockLLM: the queries, the stop conditions, abstention, the trace."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from llama_index.core.base.llms.types import LogProb
from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.llms.mock import MockLLM
from llama_index.retrievers.rag_plugins import (
    AnswerProvenanceEvent,
    IterationStepEvent,
    IterativeQueryEngine,
    LlamaIndexGenerator,
    iterative_tool,
)

from rag_plugins.confidence import AbstentionPolicy
from rag_plugins.generation import GenerationRequest
from rag_plugins.iterative import AdaptiveRetrieval, FlareRetrieval, IterRetGen
from tests.iterative.multihop_data import BRIDGE, QUESTION, build_kb


@pytest.fixture(scope="module")
def multihop_kb(tmp_path_factory):
    return build_kb(tmp_path_factory.mktemp("li-multihop"))


class ScriptedLLM(CustomLLM):
    """Replies in turn from ``replies``: (text, [(token, probability), ...] or None)."""

    replies: list = []
    prompts: list = []

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="scripted")

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self.prompts.append(prompt)
        text, probabilities = self.replies[(len(self.prompts) - 1) % len(self.replies)]
        logprobs = None if probabilities is None else [
            [LogProb(token=t, logprob=math.log(p), bytes=[]), LogProb(token="?", logprob=math.log(p / 10), bytes=[])]
            for t, p in probabilities]
        return CompletionResponse(text=text, logprobs=logprobs)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any):
        yield self.complete(prompt)


def test_query_engine_source_nodes_hold_every_iteration(multihop_kb, instrumentation_events):
    llm = ScriptedLLM(replies=[(BRIDGE, None), ("Chief of Protocol", None)], prompts=[])
    engine = IterativeQueryEngine(pipeline=IterRetGen(multihop_kb.bm25_retriever(), LlamaIndexGenerator(llm),
                                                      iterations=2, k=3))
    response = engine.query(QUESTION)
    steps = instrumentation_events.of(IterationStepEvent)
    assert str(response) == "Chief of Protocol"
    assert response.metadata["queries"] == [QUESTION, f"{QUESTION} {BRIDGE}"]
    by_iteration = {}
    for node in response.source_nodes:
        by_iteration.setdefault(node.node.metadata["iteration"], []).append(node.node.metadata["document_id"])
    assert set(by_iteration) == {0, 1} and "temple" in by_iteration[1] and "kiss" in by_iteration[0]
    assert all(len(ids) <= 3 for ids in by_iteration.values())
    assert [e.step["kind"] for e in steps] == ["retrieval", "generation", "retrieval", "generation"]
    assert steps[2].step["query"] == f"{QUESTION} {BRIDGE}" and steps[0].question == QUESTION
    assert "Passages:" in llm.prompts[1] and "Shirley Temple Black" in llm.prompts[1]
    [provenance] = instrumentation_events.of(AnswerProvenanceEvent)
    assert provenance.question == QUESTION and provenance.provenance == response.metadata["provenance"]
    assert provenance.provenance["memory"] == "retrieval" and provenance.provenance["sources"] == ["bm25"]
    assert provenance.provenance["generations"] == [multihop_kb.generation]

    llm.prompts.clear()
    aresponse = asyncio.run(engine.aquery(QUESTION))
    assert aresponse.metadata["queries"] == response.metadata["queries"]


def test_flare_reads_llama_index_logprobs(multihop_kb):
    unsure = ("She became Ambassador of Peru.", [("She", 0.9), (" became", 0.9), (" Ambassador", 0.1), (" of", 0.9),
                                                 (" Peru", 0.1), (".", 0.99)])
    llm = ScriptedLLM(replies=[unsure, ("She served as Chief of Protocol.", [("She served as Chief of Protocol.", 0.95)]),
                               ("", [])], prompts=[])
    generator = LlamaIndexGenerator(llm)
    assert generator.generate(GenerationRequest("q")).min_probability == pytest.approx(0.1)
    llm.prompts.clear()
    response = IterativeQueryEngine(pipeline=FlareRetrieval(multihop_kb.bm25_retriever(), generator, threshold=0.5,
                                                            k=3)).query(QUESTION)
    assert response.metadata["queries"] == [QUESTION, f"{QUESTION} She became of."]
    assert str(response) == "She served as Chief of Protocol." and response.metadata["stop_reason"] == "finished"


def test_mock_llm_has_no_logprobs_so_the_gate_retrieves_and_can_abstain(abstention_kb, abstention_estimator):
    policy = AbstentionPolicy(abstention_estimator)
    gate = AdaptiveRetrieval(abstention_kb.bm25_retriever(), LlamaIndexGenerator(MockLLM()), policy=policy)
    engine = IterativeQueryEngine(pipeline=gate)
    weak = engine.query("medieval falconry techniques")
    assert weak.metadata["abstained"] and weak.metadata["path"] == "abstained"
    assert str(weak).startswith("Insufficient evidence")
    strong = engine.query("how tall is the Eiffel Tower")
    assert strong.metadata["path"] == "retrieved"
    assert strong.source_nodes[0].node.metadata["document_id"] == "eiffel"
    assert gate.path_rates() == {"retrieved": 0.5, "skipped": 0.0, "abstained": 0.5}


def test_agent_tool_returns_text_and_the_response(multihop_kb, abstention_kb, abstention_estimator):
    llm = ScriptedLLM(replies=[(BRIDGE, None), ("Chief of Protocol", None)], prompts=[])
    tool = iterative_tool(IterRetGen(multihop_kb.bm25_retriever(), LlamaIndexGenerator(llm), iterations=2, k=3))
    assert tool.metadata.name == "multi_hop_search"
    output = tool(query=QUESTION)
    assert f"Searches made: {QUESTION} | {QUESTION} {BRIDGE}" in output.content
    assert 'source="temple#0"' in output.content
    assert {n.node.metadata["document_id"] for n in output.raw_output} >= {"kiss", "temple"}
    guarded = iterative_tool(IterRetGen(abstention_kb.bm25_retriever(), LlamaIndexGenerator(MockLLM()),
                                        policy=AbstentionPolicy(abstention_estimator)))
    refused = asyncio.run(guarded.acall(query="medieval falconry techniques"))
    assert refused.content.startswith("Insufficient evidence") and "<passage" not in refused.content
