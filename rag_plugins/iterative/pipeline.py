"""One loop, three ways to run it: synchronously, asynchronously, and many questions in
lock-step with batched retrieval.

Each pipeline writes its algorithm once, as a Python generator that *asks* for work: it
yields :class:`RetrieveCall` and :class:`GenerateCall` and receives their results, and
it yields :class:`Step` records as they complete. The drivers here answer the calls
with the retriever's and generator's sync, async or batch methods, and forward the
steps to whoever streams them. The loop's return value is the :class:`IterativeResult`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Generator as PyGenerator, Iterator, Sequence, Union

from rag_plugins._search_scope import collecting_generations
from rag_plugins._validation import check_k, check_query
from rag_plugins.errors import InvalidInputError, NotImplementedByError
from rag_plugins.generation.base import Generation, GenerationRequest, Generator, as_generation
from rag_plugins.iterative.trace import IterativeResult, Step
from rag_plugins.protocols import Filters, Retriever
from rag_plugins.types import Hit


@dataclass(frozen=True)
class RetrieveCall:
    query: str
    k: int
    filters: Filters | None = None


@dataclass(frozen=True)
class GenerateCall:
    request: GenerationRequest


Loop = PyGenerator[Union[RetrieveCall, GenerateCall, Step], Any, IterativeResult]
Event = Union[Step, IterativeResult]


class IterativePipeline:
    """Base of the iterative pipelines: subclasses implement ``loop(question, k, filters)``.

    ``run`` / ``arun`` return the :class:`IterativeResult`; ``stream`` / ``astream``
    yield each :class:`Step` as it completes and then the result; ``batch_run`` answers
    many questions, retrieving for all of them at once at every turn of the loop.
    """

    name = "iterative"

    def __init__(self, retriever: Retriever, generator: Generator, k: int = 10,
                 on_step: Callable[[Step], None] | None = None):
        if not hasattr(retriever, "retrieve"):
            raise InvalidInputError(f"retriever must have a retrieve() method, got {type(retriever).__name__}")
        if not hasattr(generator, "generate"):
            raise InvalidInputError(
                f"generator must have a generate(request) method, got {type(generator).__name__}; wrap a "
                "function with rag_plugins.generation.CallableGenerator"
            )
        self.retriever = retriever
        self.generator = generator
        self.k = check_k(k)
        self.on_step = on_step

    def _emit(self, step: Step) -> Step:
        """Pass a completed step to ``on_step`` (a hook for logging or callbacks) on its way out."""
        if self.on_step is not None:
            self.on_step(step)
        return step

    def loop(self, question: str, k: int, filters: Filters | None) -> Loop:
        raise NotImplementedByError(f"{type(self).__name__} must implement loop(question, k, filters)")

    def _start(self, question: str, k: int | None, filters: Filters | None) -> Loop:
        check_query(question)
        return self.loop(question, self.k if k is None else check_k(k), filters)

    # sync -------------------------------------------------------------------------------
    def _finished(self, result: Any, generations: set[int]) -> Any:
        """The loop's result with its provenance (which memory, indexes, chunks, generations)."""
        if not isinstance(result, IterativeResult):
            return result
        return result.with_provenance(getattr(self.retriever, "name", type(self.retriever).__name__), generations)

    def stream(self, question: str, k: int | None = None, filters: Filters | None = None) -> Iterator[Event]:
        loop = self._start(question, k, filters)
        value: Any = None
        read: set[int] = set()
        while True:
            try:
                item = loop.send(value)
            except StopIteration as stop:
                yield self._finished(stop.value, read)
                return
            if isinstance(item, RetrieveCall):
                with collecting_generations() as found:
                    value = self.retriever.retrieve(item.query, k=item.k, filters=item.filters)
                read |= found
            elif isinstance(item, GenerateCall):
                value = as_generation(self.generator.generate(item.request))
            else:
                value = None
                yield item

    def run(self, question: str, k: int | None = None, filters: Filters | None = None) -> IterativeResult:
        return _last(self.stream(question, k, filters))

    # async ------------------------------------------------------------------------------
    async def astream(self, question: str, k: int | None = None, filters: Filters | None = None
                      ) -> AsyncIterator[Event]:
        loop = self._start(question, k, filters)
        value: Any = None
        read: set[int] = set()
        while True:
            try:
                item = loop.send(value)
            except StopIteration as stop:
                yield self._finished(stop.value, read)
                return
            if isinstance(item, RetrieveCall):
                with collecting_generations() as found:
                    value = await self.retriever.aretrieve(item.query, k=item.k, filters=item.filters)
                read |= found
            elif isinstance(item, GenerateCall):
                value = as_generation(await self.generator.agenerate(item.request))
            else:
                value = None
                yield item

    async def arun(self, question: str, k: int | None = None, filters: Filters | None = None) -> IterativeResult:
        result = None
        async for event in self.astream(question, k, filters):
            result = event
        return _final(result)

    # batch ------------------------------------------------------------------------------
    def batch_run(self, questions: Sequence[str], k: int | None = None, filters: Filters | None = None
                  ) -> list[IterativeResult]:
        """Run every question's loop in lock-step: each turn, the retrievals all loops ask
        for go to the retriever as one ``batch_retrieve`` (one embedding batch for dense
        retrieval), then each generation runs."""
        loops = [self._start(q, k, filters) for q in questions]
        results: list[IterativeResult | None] = [None] * len(loops)
        read: list[set[int]] = [set() for _ in loops]
        pending: dict[int, Any] = {i: None for i in range(len(loops))}
        while pending:
            retrievals: dict[int, RetrieveCall] = {}
            for i in list(pending):
                value = pending.pop(i)
                while True:  # advance loop i to its next retrieval, or to its end
                    try:
                        item = loops[i].send(value)
                    except StopIteration as stop:
                        results[i] = self._finished(stop.value, read[i])
                        break
                    if isinstance(item, RetrieveCall):
                        retrievals[i] = item
                        break
                    value = (as_generation(self.generator.generate(item.request))
                             if isinstance(item, GenerateCall) else None)
            groups: dict[tuple, list[int]] = {}
            for i, call in retrievals.items():
                groups.setdefault((call.k, _filters_key(call.filters)), []).append(i)
            for members in groups.values():
                calls = [retrievals[i] for i in members]
                with collecting_generations() as generations:
                    found = _batch(self.retriever, [c.query for c in calls], calls[0].k, calls[0].filters)
                for i in members:
                    read[i] |= generations
                pending.update(zip(members, found))
        return [r for r in results if r is not None]


def timed_retrieval(call: RetrieveCall) -> PyGenerator[RetrieveCall, Any, tuple[list[Hit], float]]:
    """``hits, seconds = yield from timed_retrieval(call)`` inside a loop."""
    t0 = time.perf_counter()
    hits = yield call
    return list(hits), time.perf_counter() - t0


def timed_generation(request: GenerationRequest) -> PyGenerator[GenerateCall, Any, tuple[Generation, float]]:
    t0 = time.perf_counter()
    generation = yield GenerateCall(request)
    return generation, time.perf_counter() - t0


def abstention(question: str, decision: Any, steps: list[Step], hits: list[Hit], started: float) -> IterativeResult:
    """The result of a loop that abstained on its first retrieval (``decision`` from an
    :class:`~rag_plugins.confidence.AbstentionPolicy`): the notice as the answer, no hits."""
    return IterativeResult(question, decision.message or "", (), tuple(steps), "insufficient_evidence", "abstained",
                           decision.confidence.value, decision.message, tuple(hits), time.perf_counter() - started)


def _batch(retriever: Retriever, queries: list[str], k: int, filters: Filters | None) -> list[list[Hit]]:
    if hasattr(retriever, "batch_retrieve"):
        return retriever.batch_retrieve(queries, k=k, filters=filters)
    return [retriever.retrieve(q, k=k, filters=filters) for q in queries]


def _filters_key(filters: Filters | None) -> str:
    return repr(sorted(filters.items())) if filters else ""


def _last(events: Iterator[Event]) -> IterativeResult:
    result = None
    for result in events:
        pass
    return _final(result)


def _final(event: Any) -> IterativeResult:
    """A loop's last event is its result; anything else is a loop that stopped early."""
    if not isinstance(event, IterativeResult):
        raise NotImplementedByError(f"an iterative loop ended with {type(event).__name__}, not an IterativeResult: "
                                    "a custom loop() must finish by yielding its result")
    return event
