"""The knowledge graph compiled for traversal: a symmetric sparse adjacency matrix whose
edge weights can be recomputed for one caller's metadata filter in a few milliseconds.

A relation edge's weight is the sum of its support from the chunks that state it, so
under a filter it keeps only the support of visible chunks: a hidden chunk is never a
step of a path, nor the reason two entities are connected. Under a filter an entity is
visible only when a visible chunk mentions it (:meth:`GraphIndex.visible_nodes`): an
entity only hidden chunks name is never a seed, a step or a synonym. What hidden chunks
made of the graph is undone too: a fragment mention ("Shirley Temple" inside "Shirley
Temple Black") counts only when a visible chunk is titled by the fragment, and synonym
edges and dense linking use only entities that visible chunks make eligible (a title, or
two mentions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from rag_plugins.graph.store import KnowledgeGraph
from rag_plugins.graph.traversal import hub_discounted


_TITLE, _FRAGMENT = 1, 2  # flags of a mention edge: the chunk is titled by the entity; a fragment link


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
        rows, cols, mention, synonym, supports, flags = [], [], [], [], [], []
        for u, v, d in g.edges(data=True):
            a, b = self.position[u], self.position[v]
            entry = len(rows)
            rows += [a, b]
            cols += [b, a]
            kind = d["kind"]
            m = d.get("weight", 0.0) if kind == "mention" else 0.0
            s = d.get("synonym", 0.0)
            f = (_TITLE if d.get("title") else 0) | (_FRAGMENT if d.get("fragment") else 0) if m else 0
            mention += [m, m]
            synonym += [s, s]
            flags += [f, f]
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
        self._flags = np.asarray(flags, dtype=np.int8)[order] if flags else np.zeros(0, dtype=np.int8)
        sup = np.asarray(supports, dtype=np.float64).reshape(-1, 3)
        self._support_entry = where[sup[:, 0].astype(np.int64)] if len(sup) else np.zeros(0, dtype=np.int64)
        self._support_chunk = sup[:, 1].astype(np.int64)
        self._support_weight = sup[:, 2]
        mentions = (self._mention > 0) & self.is_chunk[self.indices] if len(self.indices) else np.zeros(0, bool)
        self._mentions = mentions
        """Per entry: whether it is an entity's mention by a chunk (row: the entity)."""
        self._entity_of_entry = np.where(self.is_chunk[self.row_of_entry], self.indices, self.row_of_entry) \
            if len(self.indices) else np.zeros(0, dtype=np.int64)
        self.df = np.bincount(self.row_of_entry[mentions], minlength=n).astype(np.float64)
        """Per entity: how many chunks mention it."""
        self.chunk_count = int(self.is_chunk.sum())
        self._unfiltered: dict[tuple[EdgeWeights, float], sp.csr_matrix] = {}
        self.entity_matrix: np.ndarray | None = None
        self.entity_nodes = np.zeros(0, dtype=np.int64)

    def attach_entity_vectors(self, keys: list[str], vectors: np.ndarray) -> None:
        """Unit vectors of entity keys, for dense linking of query spans to entities."""
        self.entity_nodes = np.array([self.entity_keys[k] for k in keys], dtype=np.int64)
        self.entity_matrix = np.asarray(vectors, dtype=np.float32)

    def visible_nodes(self, chunks: np.ndarray | None) -> np.ndarray | None:
        """Per node, whether a search may use it: the chunks ``chunks`` marks (a bool per
        node; its entities are ignored) and the entities at least one of them mentions.
        None (no filter) stays None."""
        if chunks is None:
            return None
        visible = chunks & self.is_chunk
        visible[self.row_of_entry[self._seen_mentions(visible)[0]]] = True
        return visible

    def document_frequency(self, visible: np.ndarray | None) -> tuple[np.ndarray, int]:
        """Per entity, how many ``visible`` chunks mention it, and how many chunks are
        visible: the statistics of what one caller may see."""
        if visible is None:
            return self.df, self.chunk_count
        return self._df(self._seen_mentions(visible)[0]), int((visible & self.is_chunk).sum())

    def eligible(self, visible: np.ndarray) -> np.ndarray:
        """Per node, whether it is an entity the ``visible`` chunks alone would give synonym
        edges and a name vector (:meth:`KnowledgeGraph.synonym_keys`): one titles it or two
        mention it."""
        seen, titled = self._seen_mentions(visible)
        return titled | (self._df(seen) >= 2)

    def _seen_mentions(self, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The mention entries (row: the entity) of visible chunks, fragments only of
        entities a visible chunk is titled by; and per node, whether one is."""
        seen = self._mentions & visible[self.indices]
        titled = np.zeros(len(self.nodes), dtype=bool)
        titled[self.row_of_entry[seen & ((self._flags & _TITLE) > 0)]] = True
        return seen & (((self._flags & _FRAGMENT) == 0) | titled[self.row_of_entry]), titled

    def _df(self, mentions: np.ndarray) -> np.ndarray:
        return np.bincount(self.row_of_entry[mentions], minlength=len(self.nodes)).astype(np.float64)

    def nearest_entities(self, vectors: np.ndarray, visible: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """For each unit vector, the closest entity with a vector (among the entities
        ``visible`` chunks make eligible, when given) and its cosine; node -1 when there
        is none."""
        nodes = self.entity_nodes
        matrix = self.entity_matrix
        if matrix is not None and visible is not None:
            keep = (visible & self.eligible(visible))[nodes]
            nodes, matrix = nodes[keep], matrix[keep]
        if matrix is None or not len(nodes):
            return np.full(len(vectors), -1), np.zeros(len(vectors))
        sims = vectors @ matrix.T
        best = sims.argmax(axis=1)
        return nodes[best], sims[np.arange(len(vectors)), best]

    def __len__(self) -> int:
        return len(self.nodes)

    def name(self, i: int) -> str:
        """An entity's display name, or a chunk's document title (else its id) in brackets."""
        data = self.kg.graph.nodes[self.nodes[i]]
        if data["kind"] == "entity":
            return data["name"]
        titles = [m[1] for m in data["extraction"]["mentions"] if m[3]]
        return f"[{titles[0] if titles else self.chunk_ids[i]}]"

    def adjacency(self, weights: EdgeWeights, visible_chunks: np.ndarray | None = None,
                  hub_penalty: float = 0.0) -> sp.csr_matrix:
        """The weighted adjacency; with ``visible_chunks`` (a bool per node), hidden
        chunks lose every edge and every relation support they gave, hidden nodes every
        edge, fragment mentions count only for titles visible chunks carry and synonym
        edges only between entities visible chunks make eligible. ``hub_penalty``
        discounts entities by their degree in what is visible (:func:`hub_discounted`)."""
        if visible_chunks is not None:
            return hub_discounted(self._matrix(weights, visible_chunks), ~self.is_chunk, hub_penalty)
        key = (weights, hub_penalty)
        if key not in self._unfiltered:
            self._unfiltered[key] = hub_discounted(self._matrix(weights, None), ~self.is_chunk, hub_penalty)
        return self._unfiltered[key]

    def _matrix(self, w: EdgeWeights, visible: np.ndarray | None) -> sp.csr_matrix:
        n = len(self.nodes)
        if visible is None:
            support = np.bincount(self._support_entry, weights=self._support_weight, minlength=len(self.indices))
            mention = self._mention
        else:
            support = np.bincount(self._support_entry, weights=self._support_weight * visible[self._support_chunk],
                                  minlength=len(self.indices))
            _, titled = self._seen_mentions(visible)
            mention = self._mention * (((self._flags & _FRAGMENT) == 0) | titled[self._entity_of_entry])
        synonym = self._synonym
        if visible is not None and synonym.any():
            eligible = self.eligible(visible)
            synonym = synonym * (eligible[self.row_of_entry] & eligible[self.indices])
        data = w.mention * mention + w.relation * support + w.synonym * synonym
        if visible is not None:
            data = data * (visible[self.row_of_entry] & visible[self.indices])
        edges = data != 0  # a hidden node's entries are no edges, not edges of weight 0
        indptr = np.concatenate([[0], np.cumsum(np.bincount(self.row_of_entry[edges], minlength=n))])
        return sp.csr_matrix((data[edges], self.indices[edges], indptr), shape=(n, n))
