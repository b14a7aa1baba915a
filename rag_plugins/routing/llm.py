"""The LLM router: a language model picks the route, with a timeout, a cache, and the
rule router to fall back on when the model fails, is slow, or answers nonsense."""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Callable, Mapping

from rag_plugins._validation import check_number
from rag_plugins.errors import InvalidInputError
from rag_plugins.routing.decision import ROUTE_DESCRIPTIONS, RouteDecision, Router
from rag_plugins.routing.features import QueryFeatures
from rag_plugins.routing.rules import RuleRouter

ROUTER_PROMPT = """You choose how to search a knowledge base for a user's query.

Routes:
{routes}

Query: {query}

Reply with only a JSON object: {{"route": "<one of {names}>", "reason": "<why, in a few words>", "confidence": <0 to 1>}}"""

_JSON = re.compile(r"\{.*\}", re.DOTALL)


def parse_choice(raw: Any, routes: tuple[str, ...]) -> tuple[str, str, float | None]:
    """(route, reason, confidence) from a model's answer: a mapping, a pydantic object, a
    message with ``content``, JSON text, or a bare route name. Raises ``ValueError`` with
    what was wrong.

    >>> parse_choice('Sure! {"route": "bm25", "reason": "an error code"}', ("bm25", "dense"))
    ('bm25', 'an error code', None)
    """
    if isinstance(getattr(raw, "content", None), str) and not isinstance(raw, Mapping):  # a chat message
        raw = raw.content
    elif hasattr(raw, "model_dump"):  # a structured-output object
        raw = raw.model_dump()
    if hasattr(raw, "text") and not isinstance(raw, (str, Mapping)):
        raw = raw.text
    if isinstance(raw, str):
        text = raw.strip()
        if text.strip("\"'` .").lower() in routes:
            return text.strip("\"'` .").lower(), "", None
        match = _JSON.search(text)
        if match is None:
            raise InvalidInputError(f"no JSON object in the answer {text[:120]!r}")
        try:
            raw = json.loads(match.group())
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"answer is not valid JSON ({exc}): {text[:120]!r}") from exc
    if not isinstance(raw, Mapping):
        raise InvalidInputError(f"expected an object with a 'route', got {type(raw).__name__}")
    route = str(raw.get("route", "")).strip().lower()
    if route not in routes:
        raise InvalidInputError(f"route {raw.get('route')!r} is not one of {list(routes)}")
    confidence = raw.get("confidence")
    if confidence is not None:
        try:
            confidence = float(confidence)
        except (TypeError, ValueError):
            raise InvalidInputError(f"confidence {confidence!r} is not a number") from None
        if not 0.0 <= confidence <= 1.0:
            raise InvalidInputError(f"confidence {confidence!r} is outside [0, 1]")
    return route, str(raw.get("reason", "")).strip(), confidence


class LLMRouter:
    """Asks a language model for the route. ``predict(prompt)`` is any call that returns
    the model's answer (text, a message, or a mapping); the framework adapters
    (``langchain_rag_plugins.ChatModelRouter``, ``llama_index...LLMRouterForLlamaIndex``)
    build it from a chat model or an LLM.

    A call slower than ``timeout`` seconds, an exception, or an answer that names no
    offered route falls back to ``fallback`` (the rule router), and the decision says why
    in ``fallback``. Valid decisions are cached per query (``cache_size`` most recent).

    >>> from rag_plugins.routing.features import QueryFeatures
    >>> router = LLMRouter(lambda prompt: '{"route": "graph", "reason": "relation between two films"}')
    >>> d = router.decide(QueryFeatures.of("How is Alien related to Aliens?"), ("bm25", "graph"))
    >>> d.route, d.reasons
    ('graph', ('llm: relation between two films',))
    >>> bad = LLMRouter(lambda prompt: "no idea").decide(QueryFeatures.of("E404"), ("bm25", "dense"))
    >>> bad.router, bad.route, bad.fallback.startswith("LLM answer invalid")
    ('rules', 'bm25', True)
    """

    name = "llm"
    needs_embedding = False

    def __init__(self, predict: Callable[[str], Any], *, fallback: Router | None = None, timeout: float = 10.0,
                 cache_size: int = 1024, prompt: str = ROUTER_PROMPT, default_confidence: float = 0.8,
                 descriptions: Mapping[str, str] | None = None, model: str | None = None):
        if not callable(predict):
            raise InvalidInputError("predict must be callable: prompt -> the model's answer")
        check_number(timeout, "timeout", 0, low_open=True)
        if cache_size < 0:
            raise InvalidInputError(f"cache_size must be >= 0, got {cache_size!r}")
        for field_name in ("{routes}", "{query}", "{names}"):
            if field_name not in prompt:
                raise InvalidInputError(f"the router prompt must contain {field_name}")
        self.predict = predict
        self.fallback = fallback or RuleRouter()
        self.timeout = timeout
        self.cache_size = cache_size
        self.prompt = prompt
        self.default_confidence = default_confidence
        self.descriptions = {**ROUTE_DESCRIPTIONS, **(descriptions or {})}
        self.model = model
        self.calls = 0
        self._cache: OrderedDict[tuple[str, tuple[str, ...]], RouteDecision] = OrderedDict()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rag-plugins-llm-router")

    def render(self, query: str, routes: tuple[str, ...]) -> str:
        lines = "\n".join(f"- {r}: {self.descriptions.get(r, r)}" for r in routes)
        return self.prompt.format(routes=lines, query=query, names=", ".join(routes))

    def decide(self, features: QueryFeatures, routes: tuple[str, ...]) -> RouteDecision:
        key = (features.query, tuple(routes))
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        try:
            self.calls += 1
            raw = self._pool.submit(self.predict, self.render(features.query, routes)).result(self.timeout)
        except FutureTimeout:
            return self._fall_back(features, routes, f"LLM router timed out after {self.timeout:g}s")
        except Exception as exc:  # noqa: BLE001 - any model failure falls back, and says which
            return self._fall_back(features, routes, f"LLM call failed: {type(exc).__name__}: {exc}")
        try:
            route, reason, confidence = parse_choice(raw, routes)
        except InvalidInputError as exc:
            return self._fall_back(features, routes, f"LLM answer invalid: {exc}")
        confidence = self.default_confidence if confidence is None else confidence
        scores = {route: confidence}
        runner_up = next((r for r in ("hybrid", *routes) if r in routes and r != route), None)
        if runner_up is not None:  # so an unsure answer can be fused with a safe second route
            scores[runner_up] = 1.0 - confidence
        decision = RouteDecision({route: 1.0}, confidence, (f"llm: {reason or 'chose ' + route}",), self.name,
                                 scores)
        if self.cache_size:
            with self._lock:
                self._cache[key] = decision
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return decision

    def _fall_back(self, features: QueryFeatures, routes: tuple[str, ...], why: str) -> RouteDecision:
        decision = self.fallback.decide(features, routes)
        return RouteDecision(decision.routes, decision.confidence, (*decision.reasons, f"({why})"),
                             decision.router, decision.scores, why)
