from __future__ import annotations

import asyncio

import pytest

from rag_plugins.confidence import AbstentionPolicy
from rag_plugins.errors import InvalidInputError, InvalidQueryError
from rag_plugins.generation import ContextWindow, ExtractiveBridgeGenerator
from rag_plugins.iterative import IterativeRetriever, IterRetGen
from tests.iterative.multihop_data import BRIDGE, QUESTION
from tests.iterative.scripted import ScriptedGenerator


def bridge_then_answer(request):
    """Names the star once the film's paragraph is in context, answers once hers is."""
    ids = [h.document_id for h in request.hits]
    if "temple" in ids:
        return "Chief of Protocol"
    return BRIDGE if "kiss" in ids else ""


def test_single_shot_misses_the_second_hop_that_iteration_finds(multihop_kb):
    bm25 = multihop_kb.bm25_retriever()
    assert "temple" not in [h.document_id for h in bm25.retrieve(QUESTION, k=3)]
    generator = ScriptedGenerator(bridge_then_answer)
    result = IterRetGen(bm25, generator, iterations=3, k=3).run(QUESTION)
    assert result.queries == [QUESTION, f"{QUESTION} {BRIDGE}"] + [f"{QUESTION} Chief of Protocol"]
    assert result.answer == "Chief of Protocol"
    ids = [h.document_id for h in result.hits]
    assert ids[0] == "kiss" and "temple" in ids[:3]
    # the second request read this iteration's hits first, then the first's, each passage once
    second = [h.document_id for h in generator.requests[1].hits]
    first_hits, second_hits = [s.hits for s in result.steps if s.kind == "retrieval"][:2]
    expected = list(dict.fromkeys([h.document_id for h in second_hits] + [h.document_id for h in first_hits]))
    assert second == expected and "temple" in second
    assert generator.requests[1].history == (BRIDGE,)


def test_trace_records_every_step_with_timings(multihop_kb):
    result = IterRetGen(multihop_kb.bm25_retriever(), ScriptedGenerator(bridge_then_answer), iterations=2, k=3).run(QUESTION)
    assert [(s.kind, s.reason) for s in result.steps] == [
        ("retrieval", "initial"), ("generation", "answer"), ("retrieval", "iteration"), ("generation", "answer")]
    assert [s.index for s in result.steps] == [0, 1, 2, 3]
    assert all(s.seconds >= 0 for s in result.steps)
    assert result.steps[1].generation.text == BRIDGE and result.steps[3].generation.text == "Chief of Protocol"
    assert result.steps[2].details["new_hits"] >= 1
    assert result.stop_reason == "max_iterations" and result.path == "retrieved"
    as_dict = result.to_dict()
    assert as_dict["queries"] == result.queries and len(as_dict["steps"]) == 4


def test_stops_early_when_the_answer_stops_changing(multihop_kb):
    generator = ScriptedGenerator(lambda request: "Shirley Temple")
    result = IterRetGen(multihop_kb.bm25_retriever(), generator, iterations=5, k=3).run(QUESTION)
    assert result.stop_reason == "answer_unchanged"
    assert len(generator.requests) == 2 and result.retrievals == 2
    empty = IterRetGen(multihop_kb.bm25_retriever(), ScriptedGenerator(lambda r: "  "), iterations=5, k=3).run(QUESTION)
    assert empty.stop_reason == "answer_unchanged" and empty.retrievals == 1


def test_stops_early_when_retrieval_is_confident_and_abstains_when_it_is_weak(abstention_kb, abstention_estimator):
    bm25 = abstention_kb.bm25_retriever()
    policy = AbstentionPolicy(abstention_estimator)
    generator = ScriptedGenerator(lambda request: f"answer {len(request.history)}")
    confident = IterRetGen(bm25, generator, iterations=4, policy=policy, stop_confidence=0.5).run(
        "how tall is the Eiffel Tower")
    assert confident.stop_reason == "confident" and confident.retrievals == 1 and confident.confidence >= 0.5

    weak = ScriptedGenerator(lambda request: "made up")
    result = IterRetGen(bm25, weak, iterations=3, policy=policy).run("chess opening theory")
    assert result.abstained and result.path == "abstained" and result.stop_reason == "insufficient_evidence"
    assert result.hits == () and result.candidates and "Insufficient evidence" in result.answer
    nothing = IterRetGen(bm25, weak, iterations=3, policy=policy).run("medieval falconry techniques")
    assert nothing.abstained and nothing.stop_reason == "insufficient_evidence" and nothing.candidates == ()
    assert weak.requests == []  # nothing was generated from weak context


def test_context_fits_the_token_budget(multihop_kb):
    generator = ScriptedGenerator(bridge_then_answer)
    IterRetGen(multihop_kb.bm25_retriever(), generator, iterations=2, k=6,
               context=ContextWindow(token_budget=40, min_tokens=100)).run(QUESTION)
    for request in generator.requests:
        assert len(request.context_text.split()) <= 40
        assert request.hits  # the best passage always fits here


def test_sync_async_stream_and_batch_agree(multihop_kb):
    def pipeline():
        return IterRetGen(multihop_kb.bm25_retriever(), ScriptedGenerator(bridge_then_answer), iterations=2, k=3)

    sync = pipeline().run(QUESTION)
    events = list(pipeline().stream(QUESTION))
    assert [e.kind for e in events[:-1]] == ["retrieval", "generation", "retrieval", "generation"]
    assert events[-1].queries == sync.queries
    async_result = asyncio.run(pipeline().arun(QUESTION))
    batch = pipeline().batch_run([QUESTION, "Who directed Kiss and Tell?"])
    for other in (events[-1], async_result, batch[0]):
        assert [h.chunk.id for h in other.hits] == [h.chunk.id for h in sync.hits]
        assert other.answer == sync.answer
    assert batch[1].question == "Who directed Kiss and Tell?"


def test_iterative_retriever_with_the_extractive_generator(multihop_kb, embedder):
    retriever = IterativeRetriever(IterRetGen(multihop_kb.bm25_retriever(), ExtractiveBridgeGenerator(embedder, sentences=1),
                                              iterations=2, k=3, keep=1))
    hits = retriever.retrieve(QUESTION, k=3)
    by_doc = {h.document_id: h for h in hits}
    assert {"kiss", "temple"} <= set(by_doc)
    assert by_doc["temple"].evidence["iteration"] >= 1  # the bridge query found it, not the question
    assert [[h.chunk.id for h in r] for r in retriever.batch_retrieve([QUESTION], k=3)] == [[h.chunk.id for h in hits]]


def test_bad_arguments_are_typed_errors(multihop_kb):
    bm25 = multihop_kb.bm25_retriever()
    generator = ScriptedGenerator(lambda r: "x")
    with pytest.raises(InvalidInputError, match="iterations"):
        IterRetGen(bm25, generator, iterations=0)
    with pytest.raises(InvalidInputError, match="policy"):
        IterRetGen(bm25, generator, stop_confidence=0.8)
    with pytest.raises(InvalidInputError, match="question"):
        IterRetGen(bm25, generator, query_template="{generation}")
    with pytest.raises(InvalidInputError, match="CallableGenerator"):
        IterRetGen(bm25, lambda prompt: "x")
    with pytest.raises(InvalidQueryError):
        IterRetGen(bm25, generator).run("  ")
