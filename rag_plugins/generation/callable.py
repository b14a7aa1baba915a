"""Plain functions as generators: sync or async, taking the prompt text or the request."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Awaitable, Callable

from rag_plugins.errors import InvalidInputError
from rag_plugins.generation.base import Generation, GenerationRequest, as_generation


class CallableGenerator:
    """Wrap ``fn(prompt_text)`` (or ``fn(request)`` with ``pass_request=True``) as a generator.

    ``fn`` may return text, a :class:`Generation` (to pass token log-probabilities), a chat
    message or a mapping with ``text``. An ``async def`` function is awaited by
    ``agenerate`` and run on a private event loop by ``generate``; a plain function runs in
    a worker thread under ``agenerate``. ``afn`` gives a separate async implementation.

    >>> from rag_plugins.generation import GenerationRequest
    >>> echo = CallableGenerator(lambda prompt: prompt.splitlines()[-2])
    >>> echo.generate(GenerationRequest("Who wrote Dune?")).text
    'Question: Who wrote Dune?'
    """

    def __init__(self, fn: Callable[[Any], Any], afn: Callable[[Any], Awaitable[Any]] | None = None,
                 pass_request: bool = False, name: str = "callable"):
        if not callable(fn):
            raise InvalidInputError(f"CallableGenerator needs a callable, got {type(fn).__name__}")
        if afn is None and inspect.iscoroutinefunction(fn):
            fn, afn = None, fn  # type: ignore[assignment]
        self.fn = fn
        self.afn = afn
        self.pass_request = pass_request
        self.name = name

    def _argument(self, request: GenerationRequest) -> Any:
        return request if self.pass_request else request.prompt()

    def generate(self, request: GenerationRequest) -> Generation:
        if self.fn is None:
            return asyncio.run(self.agenerate(request))
        return as_generation(self.fn(self._argument(request)))

    async def agenerate(self, request: GenerationRequest) -> Generation:
        if self.afn is not None:
            return as_generation(await self.afn(self._argument(request)))
        return await asyncio.to_thread(self.generate, request)
