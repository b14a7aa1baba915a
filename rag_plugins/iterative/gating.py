"""Adaptive retrieval: answer without retrieval when the generator is sure, abstain when
retrieval is weak, retrieve otherwise; and count how often each path is taken."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import replace
from typing import Callable

from rag_plugins.confidence.abstention import AbstentionPolicy
from rag_plugins.errors import InvalidInputError
from rag_plugins.generation.base import Generation, GenerationRequest, Generator
from rag_plugins.iterative.iter_retgen import IterRetGen
from rag_plugins.iterative.pipeline import IterativePipeline, Loop, timed_generation
from rag_plugins.iterative.trace import PATHS, IterativeResult, Step
from rag_plugins.protocols import Filters, Retriever

MEASURES = ("min", "mean")


class AdaptiveRetrieval(IterativePipeline):
    """Gate retrieval on the generator's own confidence.

    First the generator answers closed-book. When it reports token log-probabilities and
    its confidence (the least likely token's probability, ``measure="min"``, or the mean
    per-token probability, ``"mean"``) is at least ``skip_above``, that answer stands and
    nothing is retrieved (path ``skipped``). Otherwise ``pipeline`` runs (by default a
    single retrieve-then-generate pass; give an :class:`IterRetGen` or a
    :class:`~rag_plugins.iterative.flare.FlareRetrieval` for more), and with ``policy`` a
    weak first retrieval ends in an explicit insufficient-evidence answer (path
    ``abstained``). A generator without log-probabilities always retrieves.

    ``path_counts`` / ``path_rates()`` report how often each path was taken.

    >>> import tempfile
    >>> from rag_plugins import Document, KnowledgeBase
    >>> from rag_plugins.generation import CallableGenerator, Generation, TokenLogprob
    >>> kb = KnowledgeBase.open(tempfile.mkdtemp())
    >>> _ = kb.upsert([Document("st", "Shirley Temple was Chief of Protocol.")])
    >>> _ = kb.commit()
    >>> def llm(request):  # sure of arithmetic, unsure of anything else unless it has passages
    ...     if "2 + 2" in request.question:
    ...         return Generation("4", (TokenLogprob("4", -0.01),))
    ...     return Generation("Chief of Protocol", (TokenLogprob("Chief of Protocol", -0.05 if request.hits else -2.0),))
    >>> gate = AdaptiveRetrieval(kb.bm25_retriever(), CallableGenerator(llm, pass_request=True), skip_above=0.9)
    >>> gate.run("What is 2 + 2?").path, gate.run("Which office did Shirley Temple hold?").path
    ('skipped', 'retrieved')
    >>> gate.path_rates()
    {'retrieved': 0.5, 'skipped': 0.5, 'abstained': 0.0}
    """

    name = "adaptive"

    def __init__(self, retriever: Retriever, generator: Generator, skip_above: float = 0.9, measure: str = "min",
                 pipeline: IterativePipeline | None = None, policy: AbstentionPolicy | None = None, k: int = 10,
                 on_step: Callable[[Step], None] | None = None):
        super().__init__(retriever, generator, k, on_step)
        if not 0.0 < skip_above <= 1.0:
            raise InvalidInputError(f"skip_above must be a probability in (0, 1], got {skip_above!r}")
        if measure not in MEASURES:
            raise InvalidInputError(f"measure must be one of {MEASURES}, got {measure!r}")
        if pipeline is not None and policy is not None:
            raise InvalidInputError("give the policy to the pipeline you pass, not to AdaptiveRetrieval")
        self.skip_above = skip_above
        self.measure = measure
        self.pipeline = pipeline or IterRetGen(retriever, generator, iterations=1, k=k, policy=policy)
        self.path_counts: Counter[str] = Counter({path: 0 for path in PATHS})
        self._lock = threading.Lock()

    def confidence(self, generation: Generation) -> float | None:
        return generation.min_probability if self.measure == "min" else generation.mean_probability

    def path_rates(self) -> dict[str, float]:
        with self._lock:
            total = sum(self.path_counts.values())
            return {path: (self.path_counts[path] / total if total else 0.0) for path in PATHS}

    def _count(self, path: str) -> None:
        with self._lock:
            self.path_counts[path] += 1

    def loop(self, question: str, k: int, filters: Filters | None) -> Loop:
        started = time.perf_counter()
        generation, seconds = yield from timed_generation(GenerationRequest(question, task="answer"))
        confidence = self.confidence(generation)
        gate = Step(0, "generation", "closed_book", seconds, generation=generation,
                    details={"generator_confidence": confidence, "skip_above": self.skip_above,
                             "measure": self.measure})
        yield self._emit(gate)
        if confidence is not None and confidence >= self.skip_above and generation.text.strip():
            self._count("skipped")
            return IterativeResult(question, generation.text, (), (gate,), "confident_without_retrieval", "skipped",
                                   None, None, (), time.perf_counter() - started)
        inner = yield from _renumbered(self.pipeline.loop(question, k, filters), 1, self.on_step)
        self._count(inner.path)
        return IterativeResult(question, inner.answer, inner.hits, (gate, *inner.steps), inner.stop_reason,
                               inner.path, inner.confidence, inner.message, inner.candidates,
                               time.perf_counter() - started)


def _renumbered(loop: Loop, offset: int, on_step: Callable[[Step], None] | None) -> Loop:
    """Run an inner pipeline's loop inside this one, shifting its step indexes by ``offset``."""
    value = None
    while True:
        try:
            item = loop.send(value)
        except StopIteration as stop:
            result = stop.value
            return replace(result, steps=tuple(replace(s, index=s.index + offset) for s in result.steps))
        if isinstance(item, Step):
            item = replace(item, index=item.index + offset)
            if on_step is not None:
                on_step(item)
        value = yield item
