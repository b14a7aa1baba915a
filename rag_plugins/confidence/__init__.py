"""Calibrated retrieval confidence, its status, and abstention on weak evidence."""

from rag_plugins.confidence.abstention import (
    INSUFFICIENT_EVIDENCE, AbstainingRetriever, AbstentionPolicy, RetrievalResult,
)
from rag_plugins.confidence.calibration import IsotonicCalibrator, PlattCalibrator
from rag_plugins.confidence.estimator import STATUSES, Confidence, ConfidenceEstimator
from rag_plugins.confidence.features import FEATURES, confidence_features

__all__ = [
    "AbstainingRetriever", "AbstentionPolicy", "Confidence", "ConfidenceEstimator", "FEATURES", "INSUFFICIENT_EVIDENCE",
    "IsotonicCalibrator", "PlattCalibrator", "RetrievalResult", "STATUSES", "confidence_features",
]
