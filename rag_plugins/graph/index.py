"""The knowledge graph compiled for traversal: a symmetric sparse adjacency matrix whose
edge weights can be recomputed for one caller's metadata filter in a few milliseconds.

A relation edge's weight is the sum of its support from the chunks that state it, so
under a filter it keeps only the support of visible chunks: a hidden chunk is never a
step of a path, nor the reason two entities are connected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from rag_plugins.graph.store import KnowledgeGraph


@dataclass(frozen=True)
class EdgeWeights:
    """How much each kind of edge counts in a traversal."""

    mention: float = 1.0
    relation: float = 1.0
    synonym: float = 1.0


class GraphIndex:
    """Arrays over a :class:`KnowledgeGraph`'s nodes (sorted by id, so stable)."""

    def __init__(self, kg: KnowledgeGraph):
        g = kg.graph
        self.kg = kg
        self.nodes: list[str] = sorted(g.nodes)
        self.position = {node: i for i, node in enumerate(self.nodes)}
        n = len(self.nodes)
        self.is_chunk = np.array([g.nodes[v]["kind"] == "chunk" for v in self.nodes], dtype=bool)
        self.chunk_ids = [v[2:] if chunk else None for v, chunk in zip(self.nodes, self.is_chunk)]
        self.entity_keys = {v[2:]: i for i, v in enumerate(self.nodes) if not self.is_chunk[i]}
        rows, cols, mention, synonym, supports = [], [], [], [], []
        for u, v, d in g.edges(data=True):
            a, b = self.position[u], self.position[v]
            entry = len(rows)
            rows += [a, b]
            cols += [b, a]
            kind = d["kind"]
            m = d.get("weight", 0.0) if kind == "mention" else 0.0
            s = d.get("synonym", 0.0)
            mention += [m, m]
            synonym += [s, s]
            for chunk_id, w in d.get("support", {}).items():
                c = self.position.get("c:" + chunk_id)
                if c is not None:
                    supports += [(entry, c, w), (entry + 1, c, w)]
        rows_a, cols_a = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        order = np.lexsort((cols_a, rows_a))
        where = np.empty_like(order)
        where[order] = np.arange(len(order))
        self.indices = cols_a[order].astype(np.int32)
        self.row_of_entry = rows_a[order]
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(rows_a, minlength=n))]).astype(np.int64)
        self._mention = np.asarray(mention, dtype=np.float64)[order] if mention else np.zeros(0)
        self._synonym = np.asarray(synonym, dtype=np.float64)[order] if synonym else np.zeros(0)
        sup = np.asarray(supports, dtype=np.float64).reshape(-1, 3)
        self._support_entry = where[sup[:, 0].astype(np.int64)] if len(sup) else np.zeros(0, dtype=np.int64)
        self._support_chunk = sup[:, 1].astype(np.int64)
        self._support_weight = sup[:, 2]
        mentions = (self._mention > 0) & self.is_chunk[self.indices] if len(self.indices) else np.zeros(0, bool)
        self.df = np.bincount(self.row_of_entry[mentions], minlength=n).astype(np.float64)
        """Per entity: how many chunks mention it."""
        self.chunk_count = int(self.is_chunk.sum())
        self._unfiltered: dict[EdgeWeights, sp.csr_matrix] = {}
        self.entity_matrix: np.ndarray | None = None
        self.entity_nodes = np.zeros(0, dtype=np.int64)

    def attach_entity_vectors(self, keys: list[str], vectors: np.ndarray) -> None:
        """Unit vectors of entity keys, for dense linking of query spans to entities."""
        self.entity_nodes = np.array([self.entity_keys[k] for k in keys], dtype=np.int64)
        self.entity_matrix = np.asarray(vectors, dtype=np.float32)

    def nearest_entities(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each unit vector, the closest entity with a vector and its cosine."""
        if self.entity_matrix is None or not len(self.entity_nodes):
            return np.full(len(vectors), -1), np.zeros(len(vectors))
        sims = vectors @ self.entity_matrix.T
        best = sims.argmax(axis=1)
        return self.entity_nodes[best], sims[np.arange(len(vectors)), best]

    def __len__(self) -> int:
        return len(self.nodes)

    def name(self, i: int) -> str:
        """An entity's display name, or a chunk's document title (else its id) in brackets."""
        data = self.kg.graph.nodes[self.nodes[i]]
        if data["kind"] == "entity":
            return data["name"]
        titles = [m[1] for m in data["extraction"]["mentions"] if m[3]]
        return f"[{titles[0] if titles else self.chunk_ids[i]}]"

    def adjacency(self, weights: EdgeWeights, visible_chunks: np.ndarray | None = None) -> sp.csr_matrix:
        """The weighted adjacency; with ``visible_chunks`` (a bool per node, entities
        ignored), hidden chunks lose every edge and every relation support they gave."""
        if visible_chunks is not None:
            return self._matrix(weights, visible_chunks)
        if weights not in self._unfiltered:
            self._unfiltered[weights] = self._matrix(weights, None)
        return self._unfiltered[weights]

    def _matrix(self, w: EdgeWeights, visible: np.ndarray | None) -> sp.csr_matrix:
        n = len(self.nodes)
        if visible is None:
            support = np.bincount(self._support_entry, weights=self._support_weight, minlength=len(self.indices))
            mention = self._mention
        else:
            support = np.bincount(self._support_entry, weights=self._support_weight * visible[self._support_chunk],
                                  minlength=len(self.indices))
            mention = self._mention * visible[self.row_of_entry] * visible[self.indices]
        data = w.mention * mention + w.relation * support + w.synonym * self._synonym
        return sp.csr_matrix((data, self.indices, self.indptr), shape=(n, n))
