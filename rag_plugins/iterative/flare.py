"""FLARE-style active retrieval (Jiang et al., 2023): write the answer a sentence at a
time, and retrieve only when the model is unsure of the sentence it is about to write."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from typing import Callable

from rag_plugins._validation import check_k
from rag_plugins.confidence.abstention import AbstentionPolicy
from rag_plugins.errors import InvalidInputError
from rag_plugins.generation.base import Generation, GenerationRequest, Generator, TokenLogprob
from rag_plugins.generation.context import ContextWindow, unique_hits
from rag_plugins.iterative.pipeline import (
    IterativePipeline, Loop, RetrieveCall, abstention, timed_generation, timed_retrieval,
)
from rag_plugins.iterative.trace import IterativeResult, Step
from rag_plugins.protocols import Filters, Retriever

SEARCH_REQUEST = re.compile(r"\[\s*search\s*\(\s*(.+?)\s*\)\s*\]", re.IGNORECASE | re.DOTALL)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”')\]]*(?=\s|$)")
MODES = ("auto", "logprobs", "instruct")


@dataclass(frozen=True)
class Lookahead:
    """The first sentence of a generation, the tokens that produced it (when the model
    reported them), and the search the model asked for in instruct mode."""

    sentence: str
    tokens: tuple[TokenLogprob, ...] | None
    search: str | None = None


def first_sentence(generation: Generation) -> Lookahead:
    """Cut a generation at its first sentence end, and keep the tokens inside it.

    >>> g = Generation("Paris is big. It is old.", (TokenLogprob("Paris", -0.1), TokenLogprob(" is big.", -2.0),
    ...                                             TokenLogprob(" It is old.", -0.2)))
    >>> la = first_sentence(g)
    >>> la.sentence, [t.token for t in la.tokens]
    ('Paris is big.', ['Paris', ' is big.'])
    >>> first_sentence(Generation("The mayor is [Search(mayor of Paris)] and")).search
    'mayor of Paris'
    """
    text = generation.text
    search = None
    request = SEARCH_REQUEST.search(text)
    if request is not None:
        search = request.group(1).strip()
        text = text[: request.start()]
    stripped = text.lstrip()
    offset = len(text) - len(stripped)
    end = _SENTENCE_END.search(stripped)
    sentence = (stripped[: end.end()] if end else stripped).strip()
    tokens = generation.tokens
    if tokens and "".join(t.token for t in tokens).startswith(generation.text[: offset + len(sentence)]):
        limit = offset + len(sentence)
        kept, used = [], 0
        for token in tokens:
            if used >= limit:
                break
            kept.append(token)
            used += len(token.token)
        tokens = tuple(kept)
    return Lookahead(sentence, tokens, search)


def masked_query(lookahead: Lookahead, threshold: float) -> tuple[str, list[str]]:
    """The sentence without its tokens below ``threshold`` probability (FLARE's masked
    query), and the tokens masked.

    >>> la = Lookahead("Joe Biden attended Yale.", (TokenLogprob("Joe", -0.1), TokenLogprob(" Biden", -0.1),
    ...     TokenLogprob(" attended", -0.2), TokenLogprob(" Yale", -3.0), TokenLogprob(".", -0.01)))
    >>> masked_query(la, 0.4)
    ('Joe Biden attended.', [' Yale'])
    """
    if not lookahead.tokens:
        return lookahead.sentence, []
    kept = [t.token for t in lookahead.tokens if t.probability >= threshold]
    masked = [t.token for t in lookahead.tokens if t.probability < threshold]
    return " ".join("".join(kept).split()), masked


class FlareRetrieval(IterativePipeline):
    """Generate ahead one sentence at a time. When any token of the tentative sentence has
    probability below ``threshold``, retrieve with that sentence, its tokens below
    ``mask_below`` removed (prefixed with the question when ``with_question``), and
    regenerate the sentence from the new passages; otherwise keep it.

    ``mode="logprobs"`` needs a generator that reports token log-probabilities;
    ``mode="instruct"`` asks the model to write ``[Search(query)]`` where it needs a fact
    (for models without log-probabilities); ``auto`` uses log-probabilities when the first
    generation carries them and instruct mode otherwise. The answer ends when the model
    writes nothing more, repeats a sentence, or after ``max_sentences``. With
    ``initial_retrieval``, the question itself is searched first (and ``policy`` can
    abstain on it); at most ``max_searches`` retrievals follow.

    >>> import math, tempfile
    >>> from rag_plugins import Document, KnowledgeBase
    >>> from rag_plugins.generation import CallableGenerator, Generation, TokenLogprob
    >>> kb = KnowledgeBase.open(tempfile.mkdtemp())
    >>> _ = kb.upsert([Document("st", "Shirley Temple was Chief of Protocol."), Document("x", "Pears are fruit.")])
    >>> _ = kb.commit()
    >>> def llm(request):  # unsure of the office until a passage names it; then done
    ...     if request.history:
    ...         return Generation("", ())
    ...     sure = "Chief of Protocol" in request.context_text
    ...     return Generation("She was Chief of Protocol.", (TokenLogprob("She was", -0.1),
    ...                       TokenLogprob(" Chief of Protocol.", math.log(0.9 if sure else 0.2))))
    >>> flare = FlareRetrieval(kb.bm25_retriever(), CallableGenerator(llm, pass_request=True),
    ...                        threshold=0.5, initial_retrieval=False, k=1)
    >>> result = flare.run("What office did Shirley Temple hold?")
    >>> [(s.reason, s.query) for s in result.steps if s.kind == "retrieval"]
    [('low_probability', 'What office did Shirley Temple hold? She was')]
    >>> result.answer
    'She was Chief of Protocol.'
    """

    name = "flare"

    def __init__(self, retriever: Retriever, generator: Generator, threshold: float = 0.4,
                 mask_below: float | None = None, mode: str = "auto", k: int = 5, max_sentences: int = 8,
                 max_searches: int = 8, initial_retrieval: bool = True, with_question: bool = True,
                 context: ContextWindow | None = None, policy: AbstentionPolicy | None = None,
                 on_step: Callable[[Step], None] | None = None):
        super().__init__(retriever, generator, k, on_step)
        if not 0.0 < threshold < 1.0:
            raise InvalidInputError(f"threshold must be a probability in (0, 1), got {threshold!r}")
        if mode not in MODES:
            raise InvalidInputError(f"mode must be one of {MODES}, got {mode!r}")
        self.threshold = threshold
        self.mask_below = threshold if mask_below is None else mask_below
        self.mode = mode
        self.max_sentences = check_k(max_sentences, "max_sentences")
        self.max_searches = max_searches
        self.initial_retrieval = initial_retrieval
        self.with_question = with_question
        self.context = context or ContextWindow()
        self.policy = policy

    def loop(self, question: str, k: int, filters: Filters | None) -> Loop:
        started = time.perf_counter()
        steps: list[Step] = []
        passages: list = []
        retrieved: list = []
        confidence = None
        if self.initial_retrieval:
            hits, seconds = yield from timed_retrieval(RetrieveCall(question, k, filters))
            decision = self.policy.decide(question, hits) if self.policy is not None else None
            confidence = decision.confidence.value if decision is not None else None
            steps.append(Step(0, "retrieval", "initial", seconds, question, tuple(hits), confidence=confidence))
            yield self._emit(steps[-1])
            if decision is not None and decision.abstained:
                return abstention(question, decision, steps, hits, started)
            passages = list(hits)
            retrieved.extend(hits)
        mode = self.mode
        sentences: list[str] = []
        searches = 0
        stop_reason = "max_sentences"
        for _ in range(self.max_sentences):
            task = "instruct" if mode == "instruct" else "continue"
            fitted = self.context.fit(passages)
            request = GenerationRequest(question, fitted.hits, fitted.text, task, " ".join(sentences),
                                        tuple(sentences))
            generation, seconds = yield from timed_generation(request)
            if mode == "auto":
                mode = "logprobs" if generation.has_logprobs else "instruct"
                if mode == "instruct":  # ask again, now telling the model how to request a search
                    request = replace(request, task="instruct")
                    generation, more = yield from timed_generation(request)
                    seconds += more
            lookahead = first_sentence(generation)
            query, masked = None, []
            if searches < self.max_searches:
                if mode == "logprobs" and lookahead.tokens and min(t.probability for t in lookahead.tokens) < self.threshold:
                    query, masked = masked_query(lookahead, self.mask_below)
                    if self.with_question or not query.strip():
                        query = f"{question} {query}".strip()
                elif mode == "instruct" and lookahead.search:
                    query = lookahead.search
            steps.append(Step(len(steps), "generation", "lookahead", seconds, None, fitted.hits, generation,
                              details={"sentence": lookahead.sentence, "masked_tokens": masked,
                                       "min_probability": generation.min_probability, "mode": mode}))
            yield self._emit(steps[-1])
            if query is not None:
                searches += 1
                hits, seconds = yield from timed_retrieval(RetrieveCall(query, k, filters))
                reason = "low_probability" if mode == "logprobs" else "search_request"
                steps.append(Step(len(steps), "retrieval", reason, seconds, query, tuple(hits),
                                  details={"masked_tokens": masked}))
                yield self._emit(steps[-1])
                retrieved.extend(hits)
                passages = unique_hits([*hits, *passages])
                fitted = self.context.fit(passages)
                request = replace(request, hits=fitted.hits, context=fitted.text)
                generation, seconds = yield from timed_generation(request)
                lookahead = first_sentence(generation)
                steps.append(Step(len(steps), "generation", "regenerate", seconds, None, fitted.hits, generation,
                                  details={"sentence": lookahead.sentence, "mode": mode}))
                yield self._emit(steps[-1])
            sentence = lookahead.sentence
            if not sentence:
                stop_reason = "finished"
                break
            if sentence in sentences:
                stop_reason = "repeated"
                break
            sentences.append(sentence)
        return IterativeResult(question, " ".join(sentences), tuple(unique_hits(retrieved)), tuple(steps),
                               stop_reason, "retrieved", confidence, None, (), time.perf_counter() - started)
