"""Checks on embedder output, so NaN or malformed vectors never reach an index."""

from __future__ import annotations

import numpy as np

from rag_plugins.errors import InvalidEmbeddingError


def check_embeddings(vectors: object, n: int, dimension: int | None, model_id: str) -> np.ndarray:
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
    return np.ascontiguousarray(array)
