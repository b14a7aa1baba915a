"""The knowledge-graph index kind: entities and relations extracted from the chunks.

The data is a :class:`~rag_plugins.graph.store.KnowledgeGraph` (networkx, saved as JSON);
readers get it compiled for traversal (:class:`~rag_plugins.graph.index.GraphIndex`) with
the entity-name vectors attached for dense linking. networkx and scipy load only for bases
that have a graph.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from rag_plugins.errors import InvalidInputError
from rag_plugins.index.base import IndexBase, IndexChanges, IndexServices, register_index, rows_to_positions

if TYPE_CHECKING:
    from rag_plugins.graph.index import EdgeWeights
    from rag_plugins.graph.store import KnowledgeGraph

HUB_PENALTY = 0.5
"""Steps onto an entity with ``d`` neighbours are ``d ** HUB_PENALTY`` times rarer than onto a
specific one (chosen on the HotpotQA tuning half; ``benchmarks/hotpotqa_graph.py --tune``)."""


@register_index
class KnowledgeGraphIndex(IndexBase):
    """A base opened with ``graph=`` has one; its extractor is recorded in the settings."""

    kind = "graph"
    embeds = True  # entity-name vectors link synonyms
    unit = "entities"
    missing = ("has no knowledge graph; create it with KnowledgeBase.open(path, graph=True) (or an "
               "extractor; rag-plugins index --graph) in a new directory to use graph retrieval")

    def __init__(self, kg: "KnowledgeGraph", services: IndexServices):
        from rag_plugins.graph.index import GraphIndex

        self.kg = kg
        self.traversal = GraphIndex(kg)
        if services.has_embedder:
            keys = kg.synonym_keys()
            self.traversal.attach_entity_vectors(keys, services.entity_vectors(keys))
        self.chunk_nodes = np.zeros(0, np.int64)
        """Per position, the graph node of its chunk (-1 when the graph does not hold it)."""
        self.node_positions = np.full(len(self.traversal), -1, dtype=np.int64)
        """The inverse: per graph node, the position of its chunk (-1 for entities)."""
        self.chunk_rows = np.zeros(0, np.int64)

    @classmethod
    def wanted(cls, settings: Mapping[str, Any]) -> bool:
        return settings.get("graph") is not None

    @classmethod
    def empty(cls, services: IndexServices) -> "KnowledgeGraphIndex":
        from rag_plugins.graph.store import KnowledgeGraph

        return cls(KnowledgeGraph(), services)

    @classmethod
    def load(cls, directory: Path, services: IndexServices) -> "KnowledgeGraphIndex":
        from rag_plugins.graph.store import KnowledgeGraph

        return cls(KnowledgeGraph.load(directory), services)

    def apply(self, changes: IndexChanges, services: IndexServices) -> "KnowledgeGraphIndex":
        """A copy of this graph without the retired chunks' contributions and with the new
        chunks' (this one stays as readers see it until the switch)."""
        extractions = services.extract(changes.chunks)
        kg = self.kg.copy()
        touched = kg.apply(services.chunk_ids(changes.removed_rows), extractions,
                           {c.id: c.document_id for c in changes.chunks})
        if services.has_embedder:
            kg.update_synonyms(touched, services.entity_vectors)
        return KnowledgeGraphIndex(kg, services)

    def save(self, directory: Path) -> list[str]:
        return self.kg.save(directory)

    def bind(self, rows: np.ndarray, chunk_ids: Sequence[str]) -> None:
        position = self.traversal.position
        self.chunk_rows = rows
        self.chunk_nodes = np.array([position.get("c:" + cid, -1) for cid in chunk_ids], dtype=np.int64)
        self.node_positions = np.full(len(self.traversal), -1, dtype=np.int64)
        self.node_positions[self.chunk_nodes[self.chunk_nodes >= 0]] = np.flatnonzero(self.chunk_nodes >= 0)

    def visible_nodes(self, allowed_positions: np.ndarray | None) -> np.ndarray | None:
        """Per graph node, whether a traversal limited to the chunks at ``allowed_positions``
        may use it: those chunks and the entities they mention (None: no filter)."""
        if allowed_positions is None:
            return None
        chunks = ~self.traversal.is_chunk
        nodes = self.chunk_nodes[allowed_positions]
        chunks[nodes[nodes >= 0]] = True
        return self.traversal.visible_nodes(chunks)

    def search(self, query: Sequence[Mapping[str, float]], k: int, allowed_rows: np.ndarray | None = None,
               damping: float = 0.7, hub_penalty: float = HUB_PENALTY, weights: "EdgeWeights | None" = None
               ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per restart distribution (graph node names such as ``"e:shirley temple"`` or
        ``"c:<chunk id>"``, with weights), the ``k`` chunk rows personalized PageRank reaches
        most, among ``allowed_rows``. :class:`~rag_plugins.graph.retriever.GraphRetriever`
        adds entity linking and evidence paths on top."""
        from rag_plugins.graph.index import EdgeWeights
        from rag_plugins.graph.traversal import personalized_pagerank

        visible = self.visible_nodes(rows_to_positions(self.chunk_rows, allowed_rows))
        adjacency = self.traversal.adjacency(weights or EdgeWeights(), visible, hub_penalty)
        out = []
        for restart in query:
            unknown = [name for name in restart if name not in self.traversal.position]
            if unknown:
                raise InvalidInputError(f"graph nodes {unknown[:5]} are not in this graph; name entities "
                                        "'e:<key>' and chunks 'c:<chunk id>'")
            seeds = {self.traversal.position[name]: float(w) for name, w in restart.items()
                     if visible is None or visible[self.traversal.position[name]]}
            if not seeds:
                out.append((np.zeros(0, np.int64), np.zeros(0, np.float32)))
                continue
            scores = personalized_pagerank(adjacency, seeds, damping)
            chunk = self.traversal.is_chunk if visible is None else self.traversal.is_chunk & visible
            scores = np.where(chunk & (self.node_positions >= 0), scores, 0.0)
            order = np.argsort(-scores, kind="stable")[:k]
            order = order[scores[order] > 0]
            out.append((self.chunk_rows[self.node_positions[order]], scores[order].astype(np.float32)))
        return out

    def __len__(self) -> int:
        return self.kg.entity_count()

    def settings(self) -> dict[str, Any]:
        return {"edges": self.kg.graph.number_of_edges()}
