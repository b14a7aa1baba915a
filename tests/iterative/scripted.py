"""A small scripted generator: what a language model would say, with the log-probabilities
a test chooses, and a record of every request it was given."""

from __future__ import annotations

import math
from typing import Callable, Sequence

from rag_plugins.generation import BaseGenerator, Generation, GenerationRequest, TokenLogprob


def tokens(*pairs: tuple[str, float]) -> tuple[TokenLogprob, ...]:
    """(token, probability) pairs as TokenLogprobs."""
    return tuple(TokenLogprob(t, math.log(p)) for t, p in pairs)


class ScriptedGenerator(BaseGenerator):
    """Answers each request with ``respond(request)`` (text or a Generation) and records it."""

    name = "scripted"

    def __init__(self, respond: Callable[[GenerationRequest], object] | Sequence[object]):
        if not callable(respond):
            replies = list(respond)
            respond = lambda request: replies.pop(0)  # noqa: E731
        self.respond = respond
        self.requests: list[GenerationRequest] = []

    def generate(self, request: GenerationRequest) -> Generation:
        self.requests.append(request)
        reply = self.respond(request)
        return reply if isinstance(reply, Generation) else Generation(str(reply))
