"""ITER-RETGEN (Shao et al., 2023): retrieve with the question plus the last generation,
generate from the new context, repeat."""

from __future__ import annotations

import time
from typing import Callable

from rag_plugins._validation import check_k
from rag_plugins.confidence.abstention import AbstentionPolicy
from rag_plugins.errors import InvalidInputError
from rag_plugins.generation.base import GenerationRequest, Generator
from rag_plugins.generation.context import ContextWindow, unique_hits
from rag_plugins.iterative.merge import DEFAULT_KEEP, cascade_merge
from rag_plugins.iterative.pipeline import (
    IterativePipeline, Loop, RetrieveCall, abstention, timed_generation, timed_retrieval,
)
from rag_plugins.iterative.trace import IterativeResult, Step
from rag_plugins.protocols import Filters, Retriever


def _normalised(text: str) -> str:
    return " ".join(text.lower().split()).strip(" .")


class IterRetGen(IterativePipeline):
    """Iterate ``iterations`` times: retrieve with ``query_template`` (the question plus the
    previous generation), then generate from the context, which holds this iteration's
    hits first and then the earlier iterations' (each passage once), within
    ``context``'s token budget.

    It stops early when the generation is empty or stops changing (``answer_unchanged``),
    or when the calibrated retrieval confidence reaches ``stop_confidence``
    (``confident``; needs ``policy``). With ``policy``, a first retrieval below the
    policy's threshold ends the run as an explicit abstention (``insufficient_evidence``)
    before anything is generated. ``result.hits`` merges every iteration's ranking with
    :func:`~rag_plugins.iterative.merge.cascade_merge` (``keep``).

    >>> import tempfile
    >>> from rag_plugins import Document, KnowledgeBase
    >>> from rag_plugins.generation import CallableGenerator
    >>> kb = KnowledgeBase.open(tempfile.mkdtemp())
    >>> _ = kb.upsert([Document("film", "Kiss and Tell is a 1945 film starring Shirley Temple."),
    ...                Document("st", "Shirley Temple was Chief of Protocol of the United States."),
    ...                Document("pears", "Tell me about pears: they are fruit.")])
    >>> _ = kb.commit()
    >>> question = "Which office did the star of Kiss and Tell hold?"
    >>> [h.document_id for h in kb.bm25_retriever().retrieve(question, k=2)]  # single shot misses the 2nd hop
    ['film', 'pears']
    >>> llm = CallableGenerator(lambda prompt: "Chief of Protocol" if "was Chief" in prompt else "Shirley Temple")
    >>> result = IterRetGen(kb.bm25_retriever(), llm, iterations=2, k=2, keep=1).run(question)
    >>> result.queries
    ['Which office did the star of Kiss and Tell hold?', 'Which office did the star of Kiss and Tell hold? Shirley Temple']
    >>> result.answer, [h.document_id for h in result.hits]
    ('Chief of Protocol', ['film', 'st', 'pears'])
    """

    name = "iter-retgen"

    def __init__(self, retriever: Retriever, generator: Generator, iterations: int = 2, k: int = 10,
                 keep: int = DEFAULT_KEEP, context: ContextWindow | None = None, policy: AbstentionPolicy | None = None,
                 stop_confidence: float | None = None, stop_when_unchanged: bool = True,
                 query_template: str = "{question} {generation}",
                 on_step: Callable[[Step], None] | None = None):
        super().__init__(retriever, generator, k, on_step)
        self.iterations = check_k(iterations, "iterations")
        self.keep = check_k(keep, "keep")
        if stop_confidence is not None and policy is None:
            raise InvalidInputError("stop_confidence needs a policy (an AbstentionPolicy with a fitted "
                                    "ConfidenceEstimator) to measure retrieval confidence")
        if "{question}" not in query_template:
            raise InvalidInputError("query_template must contain {question} (and usually {generation})")
        self.context = context or ContextWindow()
        self.policy = policy
        self.stop_confidence = stop_confidence
        self.stop_when_unchanged = stop_when_unchanged
        self.query_template = query_template

    def loop(self, question: str, k: int, filters: Filters | None) -> Loop:
        started = time.perf_counter()
        steps: list[Step] = []
        rankings: list[list] = []
        history: list[str] = []
        answer = ""
        stop_reason = "max_iterations"
        confidence = None
        for i in range(self.iterations):
            query = question if i == 0 else self.query_template.format(question=question, generation=history[-1])
            hits, seconds = yield from timed_retrieval(RetrieveCall(query, k, filters))
            decision = self.policy.decide(question, hits) if self.policy is not None else None
            confidence = decision.confidence.value if decision is not None else None
            seen = {h.chunk.id for ranking in rankings for h in ranking}
            step = Step(len(steps), "retrieval", "initial" if i == 0 else "iteration", seconds, query, tuple(hits),
                        confidence=confidence,
                        details={"iteration": i, "new_hits": sum(1 for h in hits if h.chunk.id not in seen)})
            steps.append(step)
            yield self._emit(step)
            if i == 0 and decision is not None and decision.abstained:
                return abstention(question, decision, steps, hits, started)
            rankings.append(hits)
            fitted = self.context.fit(unique_hits(h for ranking in reversed(rankings) for h in ranking))
            request = GenerationRequest(question, fitted.hits, fitted.text, "answer", history=tuple(history))
            generation, seconds = yield from timed_generation(request)
            step = Step(len(steps), "generation", "answer", seconds, None, fitted.hits, generation,
                        details={"iteration": i, "context_tokens": fitted.tokens, "dropped": list(fitted.dropped)})
            steps.append(step)
            yield self._emit(step)
            previous, answer = answer, generation.text
            history.append(answer)
            if i + 1 == self.iterations:
                break
            if self.stop_when_unchanged and (not answer.strip() or _normalised(answer) == _normalised(previous)):
                stop_reason = "answer_unchanged"
                break
            if self.stop_confidence is not None and confidence is not None and confidence >= self.stop_confidence:
                stop_reason = "confident"
                break
        return IterativeResult(question, answer, tuple(cascade_merge(rankings, self.keep)), tuple(steps),
                               stop_reason, "retrieved", confidence, None, (), time.perf_counter() - started)
