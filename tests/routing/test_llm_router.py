"""The LLM router with plain callables: parsing, fallback, timeout and cache."""

from __future__ import annotations

import threading
import time

import pytest

from rag_plugins.errors import InvalidInputError
from rag_plugins.routing import LLMRouter, QueryFeatures, RuleRouter, parse_choice

ROUTES = ("bm25", "dense", "hybrid", "graph")


def test_a_valid_answer_is_the_decision_and_is_cached_per_query():
    prompts = []
    router = LLMRouter(lambda p: prompts.append(p) or '{"route": "graph", "reason": "two films", "confidence": 0.7}')
    f = QueryFeatures.of("How is Alien related to Aliens?")
    first = router.decide(f, ROUTES)
    assert (first.route, first.confidence, first.reasons, first.router) == ("graph", 0.7, ("llm: two films",), "llm")
    assert first.scores == pytest.approx({"graph": 0.7, "hybrid": 0.3})  # the runner-up an unsure answer fuses with
    assert router.decide(f, ROUTES) is first
    assert len(prompts) == 1
    assert "How is Alien related to Aliens?" in prompts[0]
    assert "- graph: Knowledge-graph traversal" in prompts[0] and "one of bm25, dense, hybrid, graph" in prompts[0]
    router.decide(f, ("bm25", "dense"))  # other routes offered: asked again
    assert len(prompts) == 2


@pytest.mark.parametrize("answer, why", [
    ("I think keyword search", "no JSON object in the answer"),
    ('{"route": "sql"}', "route 'sql' is not one of"),
    ('{"route": "bm25", "confidence": "high"}', "confidence 'high' is not a number"),
    ('{"route": "bm25", "confidence": 3}', "outside [0, 1]"),
    ('{"route": "bm25"', "no JSON object"),
    ('["bm25"]', "no JSON object"),
])
def test_invalid_answers_fall_back_to_the_rule_router_and_say_why(answer, why):
    router = LLMRouter(lambda p: answer)
    decision = router.decide(QueryFeatures.of("what does E4012 mean"), ROUTES)
    assert decision.router == "rules" and decision.route == "bm25"
    assert decision.fallback.startswith("LLM answer invalid: ") and why in decision.fallback
    assert decision.reasons[-1] == f"({decision.fallback})"
    router.decide(QueryFeatures.of("what does E4012 mean"), ROUTES)
    assert router.calls == 2  # fallbacks are not cached: the next call asks again


def test_a_failing_or_slow_model_falls_back_and_the_caller_is_not_kept_waiting():
    def boom(prompt):
        raise ConnectionError("upstream 502")

    failed = LLMRouter(boom).decide(QueryFeatures.of("benefits of exercise"), ROUTES)
    assert failed.route == "hybrid" and failed.fallback == "LLM call failed: ConnectionError: upstream 502"
    release = threading.Event()
    slow = LLMRouter(lambda p: release.wait(5) and "bm25", timeout=0.05)
    t0 = time.perf_counter()
    decision = slow.decide(QueryFeatures.of("benefits of exercise"), ROUTES)
    assert time.perf_counter() - t0 < 2
    release.set()
    assert decision.fallback == "LLM router timed out after 0.05s" and decision.router == "rules"
    custom = LLMRouter(boom, fallback=RuleRouter()).decide(QueryFeatures.of("E4012"), ROUTES)
    assert custom.route == "bm25"


def test_answers_in_every_shape_a_framework_returns():
    class Message:
        content = ' "dense" '

    class Pydantic:
        def model_dump(self):
            return {"route": "graph", "reason": "relation"}

    assert parse_choice(Message(), ROUTES) == ("dense", "", None)
    assert parse_choice(Pydantic(), ROUTES) == ("graph", "relation", None)
    assert parse_choice({"route": "BM25 "}, ROUTES) == ("bm25", "", None)
    with pytest.raises(InvalidInputError, match="must contain {query}"):
        LLMRouter(lambda p: p, prompt="route {routes} {names}")
    with pytest.raises(InvalidInputError, match="timeout must be > 0"):
        LLMRouter(lambda p: p, timeout=0)
