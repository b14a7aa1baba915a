from __future__ import annotations

import asyncio

import pytest

from rag_plugins.confidence import AbstentionPolicy
from rag_plugins.errors import InvalidInputError
from rag_plugins.generation import Generation
from rag_plugins.iterative import AdaptiveRetrieval, FlareRetrieval, IterRetGen
from tests.iterative.multihop_data import QUESTION
from tests.iterative.scripted import ScriptedGenerator, tokens

UNSURE = Generation("She became Ambassador of Peru.", tokens(("She", 0.9), (" became", 0.8), (" Ambassador", 0.2),
                                                             (" of", 0.9), (" Peru", 0.1), (".", 0.99)))
SURE = Generation("She served as Chief of Protocol.", tokens(("She", 0.95), (" served as", 0.9),
                                                             (" Chief of Protocol", 0.9), (".", 0.99)))


def flare_model(request):
    """Unsure until the star's paragraph is in context; sure after; done after two sentences."""
    if len(request.history) >= 2:
        return Generation("", ())
    if any(h.document_id == "temple" for h in request.hits):
        return SURE if not request.history else Generation(" She was born in 1928.", tokens((" She was born in 1928.", 0.9)))
    return UNSURE


def test_flare_retrieves_on_low_probability_with_the_masked_sentence(multihop_kb):
    generator = ScriptedGenerator(flare_model)
    result = FlareRetrieval(multihop_kb.bm25_retriever(), generator, threshold=0.5, k=3).run(QUESTION)
    retrievals = [s for s in result.steps if s.kind == "retrieval"]
    assert [s.reason for s in retrievals] == ["initial", "low_probability"]
    assert retrievals[1].query == f"{QUESTION} She became of."  # " Ambassador" and " Peru" masked
    assert retrievals[1].details["masked_tokens"] == [" Ambassador", " Peru"]
    assert any(h.document_id == "temple" for h in retrievals[1].hits)
    reasons = [(s.kind, s.reason) for s in result.steps]
    assert ("generation", "regenerate") in reasons
    assert result.answer == "She served as Chief of Protocol. She was born in 1928."
    assert result.stop_reason == "finished"
    assert generator.requests[0].task == "continue" and generator.requests[1].answer_so_far == ""
    assert generator.requests[-1].answer_so_far == result.answer


def test_flare_keeps_confident_sentences_without_retrieving(multihop_kb):
    sure = ScriptedGenerator([SURE, Generation("", ())])
    result = FlareRetrieval(multihop_kb.bm25_retriever(), sure, threshold=0.5, initial_retrieval=False).run(QUESTION)
    assert result.retrievals == 0 and result.answer == SURE.text and result.stop_reason == "finished"


def test_flare_instruct_mode_for_models_without_logprobs(multihop_kb):
    def instruct_model(request):
        if request.task != "instruct":
            return "The star held an office."  # no logprobs: auto switches to instruct mode
        if any(h.document_id == "temple" for h in request.hits):
            return "" if request.history else "She was Chief of Protocol."
        return "She was [Search(Shirley Temple)] and more"

    generator = ScriptedGenerator(instruct_model)
    result = FlareRetrieval(multihop_kb.bm25_retriever(), generator, k=2).run(QUESTION)
    retrievals = [s for s in result.steps if s.kind == "retrieval"]
    assert [(s.reason, s.query) for s in retrievals] == [("initial", QUESTION), ("search_request", "Shirley Temple")]
    assert result.answer == "She was Chief of Protocol."
    assert "[Search(" in generator.requests[1].user_prompt()
    assert result.steps[1].details["mode"] == "instruct"


def test_flare_abstains_on_weak_first_retrieval(abstention_kb, abstention_estimator):
    generator = ScriptedGenerator(lambda r: "anything")
    result = FlareRetrieval(abstention_kb.bm25_retriever(), generator,
                            policy=AbstentionPolicy(abstention_estimator)).run("medieval falconry techniques")
    assert result.abstained and generator.requests == []


def test_gate_skips_retrieval_when_the_model_is_sure(multihop_kb):
    gate = AdaptiveRetrieval(multihop_kb.bm25_retriever(), ScriptedGenerator(lambda r: SURE), skip_above=0.85)
    result = gate.run(QUESTION)
    assert result.path == "skipped" and result.retrievals == 0 and result.answer == SURE.text
    assert result.steps[0].reason == "closed_book" and result.steps[0].details["generator_confidence"] == pytest.approx(0.9)
    assert gate.path_counts["skipped"] == 1


def test_gate_retrieves_when_unsure_and_counts_paths(multihop_kb):
    def model(request):
        return UNSURE if not request.hits else "Chief of Protocol"

    gate = AdaptiveRetrieval(multihop_kb.bm25_retriever(), ScriptedGenerator(model), skip_above=0.85,
                             pipeline=None)
    result = gate.run(QUESTION)
    assert result.path == "retrieved" and result.retrievals == 1 and result.answer == "Chief of Protocol"
    assert [s.index for s in result.steps] == [0, 1, 2]
    no_logprobs = AdaptiveRetrieval(multihop_kb.bm25_retriever(), ScriptedGenerator(lambda r: "Chief of Protocol"))
    assert no_logprobs.run(QUESTION).path == "retrieved"  # no logprobs: always retrieve
    sure = AdaptiveRetrieval(multihop_kb.bm25_retriever(), ScriptedGenerator(lambda r: SURE), skip_above=0.85)
    for _ in range(3):
        sure.run(QUESTION)
    gate.run(QUESTION)
    assert gate.path_rates() == {"retrieved": 1.0, "skipped": 0.0, "abstained": 0.0}
    assert sure.path_rates()["skipped"] == 1.0


def test_gate_abstains_through_the_inner_pipeline(abstention_kb, abstention_estimator):
    policy = AbstentionPolicy(abstention_estimator)
    inner_generator = ScriptedGenerator(lambda r: "guess")
    gate = AdaptiveRetrieval(abstention_kb.bm25_retriever(), ScriptedGenerator(lambda r: UNSURE), skip_above=0.85,
                             pipeline=IterRetGen(abstention_kb.bm25_retriever(), inner_generator, policy=policy))
    result = asyncio.run(gate.arun("medieval falconry techniques"))
    assert result.abstained and result.message and inner_generator.requests == []
    assert gate.path_counts["abstained"] == 1
    answered = gate.run("how tall is the Eiffel Tower")
    assert answered.path == "retrieved" and gate.path_rates() == {"retrieved": 0.5, "skipped": 0.0, "abstained": 0.5}


def test_flare_and_gate_reject_bad_settings(multihop_kb):
    bm25, generator = multihop_kb.bm25_retriever(), ScriptedGenerator(lambda r: "x")
    with pytest.raises(InvalidInputError, match="threshold"):
        FlareRetrieval(bm25, generator, threshold=1.5)
    with pytest.raises(InvalidInputError, match="mode"):
        FlareRetrieval(bm25, generator, mode="psychic")
    with pytest.raises(InvalidInputError, match="skip_above"):
        AdaptiveRetrieval(bm25, generator, skip_above=0)
    with pytest.raises(InvalidInputError, match="policy"):
        AdaptiveRetrieval(bm25, generator, pipeline=IterRetGen(bm25, generator), policy=object())


def test_provenance_says_which_memory_sourced_the_answer(multihop_kb, abstention_kb, abstention_estimator):
    skipped = AdaptiveRetrieval(multihop_kb.bm25_retriever(), ScriptedGenerator(lambda r: SURE), skip_above=0.85)
    parametric = skipped.run(QUESTION).provenance
    assert parametric.memory == "parametric" and parametric.chunks == () and parametric.generations == ()

    def model(request):
        return UNSURE if not request.hits else "Chief of Protocol"

    gate = AdaptiveRetrieval(multihop_kb.bm25_retriever(), ScriptedGenerator(model), skip_above=0.85)
    for result in (gate.run(QUESTION), asyncio.run(gate.arun(QUESTION)), gate.batch_run([QUESTION])[0]):
        provenance = result.provenance
        assert provenance.memory == "retrieval" and provenance.retriever == "bm25"
        assert provenance.generations == (multihop_kb.generation,)  # async searches in a thread: still seen
        assert provenance.sources == ("bm25",)
        assert provenance.chunks == tuple(h.chunk.id for h in result.hits) and provenance.documents == ("kiss", "radio")
        assert result.to_dict()["provenance"] == provenance.to_dict()
    policy = AbstentionPolicy(abstention_estimator)
    refused = IterRetGen(abstention_kb.bm25_retriever(), ScriptedGenerator(lambda r: "guess"), policy=policy)
    nothing = refused.run("medieval falconry techniques").provenance
    assert nothing.memory == "none" and nothing.chunks == () and nothing.generations == (abstention_kb.generation,)
