"""Abstain instead of answering from weak context: a retriever that reports its confidence."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from rag_plugins._validation import check_k, check_query
from rag_plugins.confidence.estimator import Confidence, ConfidenceEstimator
from rag_plugins.protocols import Filters, Retriever
from rag_plugins.retrievers.catalog import CATALOG, RetrieverKind, register_retriever
from rag_plugins.retrievers.base import BaseRetriever
from rag_plugins.types import Hit

INSUFFICIENT_EVIDENCE = (
    "Insufficient evidence: retrieval found no passage reliable enough to answer this question. "
    "Say that the knowledge base does not contain the answer instead of guessing."
)


@dataclass(frozen=True)
class RetrievalResult:
    """Hits plus the confidence that they hold the answer.

    When ``abstained`` is true, ``hits`` is empty and ``message`` is the explicit
    insufficient-evidence notice; ``candidates`` still holds what was retrieved, for logs.
    """

    query: str
    hits: list[Hit]
    confidence: Confidence
    abstained: bool
    candidates: list[Hit] = field(default_factory=list)
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "abstained": self.abstained, "message": self.message,
                **self.confidence.to_dict(), "hits": [h.to_dict() for h in self.hits]}


class AbstentionPolicy:
    """Decide, from one query's hits, whether to answer or abstain.

    It abstains when nothing was retrieved, when the calibrated confidence is below
    ``abstain_below`` (default: the estimator's threshold), and, with
    ``abstain_on_ambiguous``, on near-ties between documents. Framework adapters use it
    on hits they were handed; :class:`AbstainingRetriever` on hits it retrieves.
    """

    def __init__(self, estimator: ConfidenceEstimator, abstain_below: float | None = None,
                 abstain_on_ambiguous: bool = False):
        self.estimator = estimator
        self.abstain_below = estimator.threshold if abstain_below is None else float(abstain_below)
        self.abstain_on_ambiguous = abstain_on_ambiguous

    def decide(self, query: str, hits: list[Hit]) -> RetrievalResult:
        confidence = self.estimator.estimate(hits)
        abstain = (not hits or confidence.value < self.abstain_below
                   or (self.abstain_on_ambiguous and confidence.status == "ambiguous"))
        if abstain and confidence.status == "healthy":
            confidence = Confidence(confidence.value, "low_confidence", confidence.features)
        return RetrievalResult(query, [] if abstain else list(hits), confidence, abstain, list(hits),
                               INSUFFICIENT_EVIDENCE if abstain else None)


class AbstainingRetriever(BaseRetriever):
    """Wrap a retriever with a fitted :class:`ConfidenceEstimator` and an :class:`AbstentionPolicy`.

    ``retrieve_with_confidence`` returns a :class:`RetrievalResult`; as a plain retriever
    it returns the hits, or no hits when it abstains.

    >>> from rag_plugins.confidence import ConfidenceEstimator
    >>> guarded = AbstainingRetriever(kb.hybrid_retriever(),  # doctest: +SKIP
    ...                               ConfidenceEstimator.load("confidence.json"))
    >>> result = guarded.retrieve_with_confidence("who won the 1962 chess olympiad?")  # doctest: +SKIP
    >>> result.abstained, result.confidence.status  # doctest: +SKIP
    (True, 'low_confidence')
    """

    def __init__(self, retriever: Retriever, estimator: ConfidenceEstimator, abstain_below: float | None = None,
                 abstain_on_ambiguous: bool = False, name: str | None = None):
        self.retriever = retriever
        self.policy = AbstentionPolicy(estimator, abstain_below, abstain_on_ambiguous)
        self.name = name or retriever.name

    def retrieve_with_confidence(self, query: str, k: int = 10, filters: Filters | None = None) -> RetrievalResult:
        check_query(query)
        k = check_k(k)
        return self.policy.decide(query, self.retriever.retrieve(query, k=k, filters=filters))

    async def aretrieve_with_confidence(self, query: str, k: int = 10, filters: Filters | None = None
                                        ) -> RetrievalResult:
        check_query(query)
        k = check_k(k)
        return await asyncio.to_thread(self.retrieve_with_confidence, query, k, filters)

    def _retrieve(self, query: str, k: int, filters: Filters | None) -> list[Hit]:
        return self.policy.decide(query, self.retriever.retrieve(query, k=k, filters=filters)).hits


def _abstaining(kb: Any, estimator: ConfidenceEstimator, base: "str | Retriever" = "hybrid", base_options: Any = None,
                abstain_below: float | None = None, abstain_on_ambiguous: bool = False,
                name: str | None = None) -> "AbstainingRetriever":
    return AbstainingRetriever(CATALOG.build_base(kb, base, base_options), estimator, abstain_below,
                               abstain_on_ambiguous, name)


register_retriever(RetrieverKind(
    "abstaining", "Another retriever (hybrid by default) that returns nothing when its calibrated confidence "
                  "says the evidence is not there.",
    _abstaining, base=True, options=("estimator", "base", "base_options", "abstain_below", "abstain_on_ambiguous",
                                     "name"), required=("estimator",)))
