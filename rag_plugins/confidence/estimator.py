"""Calibrated retrieval confidence and a status a pipeline can act on."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rag_plugins.confidence.calibration import CALIBRATORS, calibrator_from_dict
from rag_plugins.confidence.features import FEATURES, confidence_features
from rag_plugins.errors import CalibrationError, InvalidInputError
from rag_plugins.types import Hit

STATUSES = ("no_results", "low_confidence", "ambiguous", "healthy")
FORMAT = "rag-plugins/confidence@1"


@dataclass(frozen=True)
class Confidence:
    """How likely it is that a relevant chunk is among the hits, and what that means.

    ``status`` is ``no_results`` (nothing retrieved), ``low_confidence`` (below the
    abstention threshold), ``ambiguous`` (confident, but the two best hits come from
    different documents and are nearly tied) or ``healthy``.
    """

    value: float
    status: str
    features: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"confidence": self.value, "status": self.status, "features": dict(self.features)}


class ConfidenceEstimator:
    """Turn one query's hits into a calibrated :class:`Confidence`.

    Fit it on a labelled split with :meth:`fit` (label: "a relevant chunk is in the top
    ``k``"), save it as JSON, load it next to the pipeline it was fitted for: the
    features read that pipeline's scores (reranker logits, fused scores), so a different
    pipeline needs its own fit.

    >>> from rag_plugins import Chunk
    >>> def hits(scores):
    ...     return [Hit(Chunk(f"d{i}#0", f"d{i}", "t", 0), s, {"r": s}, {"r": i + 1}, ("r",))
    ...             for i, s in enumerate(scores)]
    >>> rng = np.random.default_rng(0)
    >>> good = [hits(sorted(rng.normal(0, 1, 10), reverse=True) + np.r_[4, np.zeros(9)]) for _ in range(30)]
    >>> bad = [hits(sorted(rng.normal(0, 1, 10), reverse=True)) for _ in range(30)]
    >>> est = ConfidenceEstimator(threshold=0.5).fit(good + bad, [1] * 30 + [0] * 30)
    >>> est.estimate(good[0]).status, est.estimate(bad[0]).status, est.estimate([]).status
    ('healthy', 'low_confidence', 'no_results')
    """

    def __init__(self, calibration: str = "platt", threshold: float = 0.5, ambiguous_margin: float | None = None,
                 depth: int = 10):
        if calibration not in CALIBRATORS:
            raise InvalidInputError(f"calibration must be one of {sorted(CALIBRATORS)}, got {calibration!r}")
        if not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
            raise InvalidInputError(f"threshold must be in [0, 1], got {threshold!r}")
        self.calibration = calibration
        self.threshold = float(threshold)
        self.ambiguous_margin = ambiguous_margin
        self.depth = depth
        self.calibrator: Any = None
        self.metadata: dict[str, Any] = {}

    # fitting ------------------------------------------------------------------------------
    def features(self, hits: Sequence[Hit]) -> np.ndarray:
        return confidence_features(hits, depth=self.depth)

    def fit(self, hit_lists: Sequence[Sequence[Hit]], labels: Sequence[int], metadata: dict[str, Any] | None = None
            ) -> "ConfidenceEstimator":
        """Fit on queries' hits and whether each query's top k held a relevant chunk.

        Queries with no hits are skipped (they are ``no_results`` by definition). Unless
        set, ``ambiguous_margin`` becomes the 10th percentile of the first-minus-second
        score margin among the successful queries."""
        if len(hit_lists) != len(labels):
            raise CalibrationError(f"got {len(hit_lists)} hit lists but {len(labels)} labels")
        rows = [(self.features(h), int(bool(y))) for h, y in zip(hit_lists, labels) if h]
        x = np.array([r[0] for r in rows])
        y = np.array([r[1] for r in rows])
        self.calibrator = CALIBRATORS[self.calibration]().fit(x, y)
        if self.ambiguous_margin is None:
            margins = x[y == 1, FEATURES.index("margin")]
            self.ambiguous_margin = float(np.percentile(margins, 10)) if len(margins) else 0.0
        self.metadata = {"n_queries": int(len(y)), "positive_rate": float(y.mean()), **(metadata or {})}
        return self

    # estimating ----------------------------------------------------------------------------
    def estimate(self, hits: Sequence[Hit]) -> Confidence:
        if self.calibrator is None:
            raise CalibrationError("the confidence estimator is not fitted; call fit() or ConfidenceEstimator.load(path)")
        if not hits:
            return Confidence(0.0, "no_results", dict.fromkeys(FEATURES, 0.0))
        x = self.features(hits)
        value = float(np.clip(self.calibrator.predict(x[None, :])[0], 0.0, 1.0))
        named = dict(zip(FEATURES, map(float, x)))
        if value < self.threshold:
            status = "low_confidence"
        elif (len(hits) > 1 and hits[0].document_id != hits[1].document_id
              and named["margin"] < (self.ambiguous_margin or 0.0)):
            status = "ambiguous"
        else:
            status = "healthy"
        return Confidence(value, status, named)

    def predict(self, hit_lists: Sequence[Sequence[Hit]]) -> np.ndarray:
        return np.array([self.estimate(h).value for h in hit_lists])

    # persistence -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        if self.calibrator is None:
            raise CalibrationError("fit the estimator before saving it")
        return {"format": FORMAT, "features": list(FEATURES), "calibration": self.calibration,
                "threshold": self.threshold, "ambiguous_margin": self.ambiguous_margin, "depth": self.depth,
                "calibrator": self.calibrator.to_dict(), "metadata": self.metadata}

    def save(self, path: str | os.PathLike) -> None:
        """Write JSON atomically (temp file, then rename)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ConfidenceEstimator":
        if data.get("format") != FORMAT:
            raise CalibrationError(f"not a rag-plugins confidence file (format {data.get('format')!r}, expected {FORMAT!r})")
        if list(data.get("features", [])) != list(FEATURES):
            raise CalibrationError(f"the file was fitted on features {data.get('features')}, this version computes "
                                   f"{list(FEATURES)}; refit it with `rag-plugins calibrate`")
        est = cls(data["calibration"], data["threshold"], data["ambiguous_margin"], data["depth"])
        est.calibrator = calibrator_from_dict(data["calibrator"])
        est.metadata = dict(data.get("metadata", {}))
        return est

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ConfidenceEstimator":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CalibrationError(f"cannot read the confidence file {path}: {exc}") from exc
        try:
            return cls.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"the confidence file {path} is malformed ({exc}); refit it") from exc
