"""Checks on embedder output, so NaN, huge or malformed vectors never reach an index."""

from __future__ import annotations

import numpy as np

from rag_plugins.errors import InvalidEmbeddingError

MAX_NORM = 1e4
"""No embedding model produces longer vectors; past this, inner products overflow toward inf."""
NORM_TOLERANCE = 1e-2
"""How far from 1 a normalising embedder's norms may stray (fp16 stays within 1e-3)."""


def check_embeddings(vectors: object, n: int, dimension: int | None, model_id: str,
                     normalized: bool = False) -> np.ndarray:
    """``vectors`` as a contiguous float32 ``(n, dimension)`` array, or an
    :class:`InvalidEmbeddingError` naming the bad rows: NaN or infinite values, norms above
    :data:`MAX_NORM`, or (for an embedder that says it normalises) norms not close to 1.

    >>> check_embeddings([[0.6, 0.8]], 1, 2, "m", normalized=True).shape
    (1, 2)
    >>> check_embeddings([[6e19, 8e19]], 1, 2, "m")
    Traceback (most recent call last):
    ...
    rag_plugins.errors.InvalidEmbeddingError: embedder 'm' returned 1 vector(s) with norms such as 1e+20 ...
    """
    with np.errstate(over="ignore"):  # values past float32's range become inf, refused below
        array = np.asarray(vectors, dtype=np.float32)
    if array.ndim != 2 or array.shape[0] != n or (dimension is not None and array.shape[1] != dimension):
        raise InvalidEmbeddingError(
            f"embedder {model_id!r} returned shape {array.shape}, expected ({n}, {dimension}); "
            "check that embed_documents returns one vector per text"
        )
    finite = np.isfinite(array).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)[:5].tolist()
        raise InvalidEmbeddingError(
            f"embedder {model_id!r} returned NaN or infinite values for {int((~finite).sum())} "
            f"text(s) (first positions: {bad}); nothing was indexed. Check the model "
            "(e.g. fp16 overflow) or the input texts"
        )
    norms = np.linalg.norm(array.astype(np.float64), axis=1)
    _refuse_norms(norms, norms > MAX_NORM, model_id, f"above {MAX_NORM:g}, which no embedding model produces; "
                  "an index of them overflows to infinite scores. Check the model or any scaling applied "
                  "to its output")
    if normalized:
        _refuse_norms(norms, np.abs(norms - 1.0) > NORM_TOLERANCE, model_id,
                      "although it says it normalises (normalize=True), so norms should be 1. Normalise "
                      "the vectors, or give the embedder normalize=False")
    return np.ascontiguousarray(array)


def _refuse_norms(norms: np.ndarray, bad: np.ndarray, model_id: str, why: str) -> None:
    if bad.any():
        rows = np.flatnonzero(bad)
        raise InvalidEmbeddingError(
            f"embedder {model_id!r} returned {len(rows)} vector(s) with norms such as {norms[rows[0]]:.3g} "
            f"(first positions: {rows[:5].tolist()}), {why}; nothing was indexed"
        )
