"""One committed generation's in-memory indexes, read by retrievers without locks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from rag_plugins.filters import MetadataIndex
from rag_plugins.retrievers.bm25_index import BM25Index
from rag_plugins.retrievers.vector_index import VectorIndex
from rag_plugins.text.analysis import Analyzer

if TYPE_CHECKING:
    from rag_plugins.graph.index import GraphIndex
    from rag_plugins.store.locks import GenerationLease


@dataclass(frozen=True)
class Snapshot:
    """Position ``i`` in the BM25 index and the metadata index is chunk row ``rows[i]``."""

    generation: int
    rows: np.ndarray
    bm25: BM25Index
    analyzer: Analyzer
    vectors: VectorIndex | None
    metadata: MetadataIndex
    graph: "GraphIndex | None" = None
    graph_nodes: np.ndarray | None = None
    """Per position, the graph node of its chunk (-1 when the graph does not hold it)."""
    node_positions: np.ndarray | None = None
    """The inverse: per graph node, the position of its chunk (-1 for entities)."""
    checksums: np.ndarray | None = None
    """Per position, the chunk row's checksum (what the manifest's chunk digest covers)."""
    lease: "GenerationLease | None" = None
    """Keeps this generation's files and chunk rows from being collected while in use."""

    def allowed_positions(self, filters: Mapping[str, Any] | None) -> np.ndarray | None:
        """Positions a search under ``filters`` may return; None (no filter) means all."""
        if filters is None:
            return None
        return np.flatnonzero(self.metadata.mask(filters))

    def visible_graph_nodes(self, filters: Mapping[str, Any] | None) -> np.ndarray | None:
        """Per graph node, whether a traversal under ``filters`` may use it: every entity,
        and the chunks that pass the filter. None when there is no filter."""
        allowed = self.allowed_positions(filters)
        if allowed is None or self.graph is None:
            return None
        visible = ~self.graph.is_chunk
        nodes = self.graph_nodes[allowed]
        visible[nodes[nodes >= 0]] = True
        return visible
