"""The generator base class and the coercion of what model calls return.

The data a generator is handed and gives back lives in :mod:`rag_plugins.generation_types`,
the protocol in :mod:`rag_plugins.protocols`; both are re-exported here.
"""

from __future__ import annotations

import asyncio
from typing import Any, Mapping, Sequence

from rag_plugins.errors import InvalidTypeError, NotImplementedByError
from rag_plugins.generation_types import (
    INSTRUCT_PROMPT, SYSTEM_PROMPT, TASKS, Generation, GenerationRequest, TokenLogprob,
)
from rag_plugins.protocols import Generator

__all__ = [
    "INSTRUCT_PROMPT", "SYSTEM_PROMPT", "TASKS", "BaseGenerator", "Generation", "GenerationRequest", "Generator",
    "TokenLogprob", "as_generation",
]

class BaseGenerator:
    """Template: subclasses implement ``generate``; ``agenerate`` runs it off the event loop."""

    name: str = "generator"

    def generate(self, request: GenerationRequest) -> Generation:
        raise NotImplementedByError(f"{type(self).__name__} must implement generate(request) -> Generation")

    async def agenerate(self, request: GenerationRequest) -> Generation:
        return await asyncio.to_thread(self.generate, request)


def as_generation(raw: Any, tokens: Sequence[TokenLogprob] | None = None) -> Generation:
    """A :class:`Generation` from what a model call returned: a ``Generation``, text, a
    chat message (``.content``), a completion (``.text``) or a mapping with ``text``.

    >>> as_generation("Paris").text, as_generation({"text": "Rome"}).text
    ('Paris', 'Rome')
    """
    if isinstance(raw, Generation):
        return raw
    text: Any = raw
    if isinstance(raw, Mapping):
        text = raw.get("text", raw.get("answer", raw.get("content")))
    elif not isinstance(raw, str):
        text = getattr(raw, "content", None)
        if not isinstance(text, str):
            text = getattr(raw, "text", None)
    if isinstance(text, list):  # content blocks
        text = "".join(b if isinstance(b, str) else str(b.get("text", "")) for b in text)
    if not isinstance(text, str):
        raise InvalidTypeError(
            f"a generator returned {type(raw).__name__}; return text, a Generation, a message with "
            "string content, or a mapping with a 'text' key"
        )
    return Generation(text, tuple(tokens) if tokens else None)
