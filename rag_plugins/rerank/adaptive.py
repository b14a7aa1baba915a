"""How many candidates a cross-encoder should read, from the first stage's own confidence.

A cross-encoder costs the same on every candidate, whether the first stage already put the
answer on top or left it at rank 40. :class:`AdaptiveDepth` reads the first stage's
calibrated confidence (a :class:`~rag_plugins.confidence.ConfidenceEstimator` fitted on
the first stage's hits, e.g. ``rag-plugins calibrate`` without ``--rerank``) and answers
with a depth: shallow when the first stage is confident, deep when it is not.
"""

from __future__ import annotations

from typing import Any, Sequence

from rag_plugins._validation import check_k
from rag_plugins.errors import InvalidInputError
from rag_plugins.types import Hit

# provisional tiers; benchmarks/adaptive_rerank.py chooses them on held-out SciFact train queries
CONFIDENT_ABOVE, CONFIDENT_DEPTH, UNSURE_BELOW, UNSURE_DEPTH, DEPTH = 0.9, 10, 0.5, 100, 30


class AdaptiveDepth:
    """Rerank ``confident_depth`` candidates when the first stage's confidence is at least
    ``confident_above``, ``unsure_depth`` below ``unsure_below``, and ``depth`` between.

    A depth of 0 skips the cross-encoder for that query. Give it to
    :class:`~rag_plugins.rerank.RerankedRetriever` as ``adaptive=``; the retriever fetches
    as many candidates as the deepest tier, and the candidates not reranked keep their
    first-stage order after the reranked ones.

    >>> from rag_plugins import Chunk
    >>> class Estimator:  # a fitted ConfidenceEstimator in real use
    ...     def estimate(self, hits):
    ...         from rag_plugins.confidence import Confidence
    ...         return Confidence(hits[0].score, "healthy")
    >>> policy = AdaptiveDepth(Estimator(), confident_above=0.9, confident_depth=0, unsure_below=0.5,
    ...                        unsure_depth=50, depth=20)
    >>> hit = lambda s: [Hit(Chunk("a#0", "a", "t", 0), s)]
    >>> policy.depth_for(hit(0.95)), policy.depth_for(hit(0.7)), policy.depth_for(hit(0.2)), policy.max_depth
    (0, 20, 50, 50)
    """

    def __init__(self, estimator: Any, *, confident_above: float = CONFIDENT_ABOVE,
                 confident_depth: int = CONFIDENT_DEPTH, unsure_below: float = UNSURE_BELOW,
                 unsure_depth: int = UNSURE_DEPTH, depth: int = DEPTH):
        if not callable(getattr(estimator, "estimate", None)):
            raise InvalidInputError("AdaptiveDepth needs a fitted ConfidenceEstimator for the first stage "
                                    "(ConfidenceEstimator.load(path); fit one with `rag-plugins calibrate`)")
        for name, value in (("confident_above", confident_above), ("unsure_below", unsure_below)):
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise InvalidInputError(f"{name} must be a confidence in [0, 1], got {value!r}")
        if unsure_below > confident_above:
            raise InvalidInputError(f"unsure_below ({unsure_below}) must not exceed confident_above ({confident_above})")
        self.estimator = estimator
        self.confident_above, self.unsure_below = float(confident_above), float(unsure_below)
        self.confident_depth = _depth(confident_depth, "confident_depth")
        self.unsure_depth = _depth(unsure_depth, "unsure_depth")
        self.depth = _depth(depth, "depth")

    @property
    def max_depth(self) -> int:
        return max(self.confident_depth, self.depth, self.unsure_depth)

    def confidence(self, hits: Sequence[Hit]) -> float:
        return float(self.estimator.estimate(hits).value) if hits else 0.0

    def depth_for(self, hits: Sequence[Hit]) -> int:
        """How many of ``hits`` (the first stage's, best first) to rerank."""
        return self.depth_at(self.confidence(hits))

    def depth_at(self, confidence: float) -> int:
        if confidence >= self.confident_above:
            return self.confident_depth
        if confidence < self.unsure_below:
            return self.unsure_depth
        return self.depth

    def describe(self) -> dict[str, Any]:
        return {"confident_above": self.confident_above, "confident_depth": self.confident_depth,
                "unsure_below": self.unsure_below, "unsure_depth": self.unsure_depth, "depth": self.depth}

    def __repr__(self) -> str:
        return "AdaptiveDepth(" + ", ".join(f"{k}={v}" for k, v in self.describe().items()) + ")"


def _depth(value: int, name: str) -> int:
    if value == 0:
        return 0
    return check_k(value, name)
