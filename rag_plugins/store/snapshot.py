"""One committed generation's in-memory indexes, read by retrievers without locks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from rag_plugins.filters import MetadataIndex
from rag_plugins.retrievers.bm25_index import BM25Index
from rag_plugins.retrievers.vector_index import VectorIndex
from rag_plugins.text.analysis import Analyzer


@dataclass(frozen=True)
class Snapshot:
    """Position ``i`` in the BM25 index and the metadata index is chunk row ``rows[i]``."""

    generation: int
    rows: np.ndarray
    bm25: BM25Index
    analyzer: Analyzer
    vectors: VectorIndex | None
    metadata: MetadataIndex

    def allowed_positions(self, filters: Mapping[str, Any] | None) -> np.ndarray | None:
        if not filters:
            return None
        return np.flatnonzero(self.metadata.mask(filters))
