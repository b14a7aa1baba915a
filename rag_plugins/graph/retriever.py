"""Retrieval by traversing the knowledge graph from the entities a query names."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from rag_plugins._validation import check_k, check_number
from rag_plugins.errors import InvalidInputError
from rag_plugins.filters import check_filters
from rag_plugins.graph.index import EdgeWeights, GraphIndex
from rag_plugins.graph.linking import EntityLinker, Seed
from rag_plugins.graph.traversal import k_hop, paths_to, personalized_pagerank, shortest_path
from rag_plugins.index.graph import HUB_PENALTY, KnowledgeGraphIndex
from rag_plugins.protocols import Filters, IndexedGeneration, SearchableBase
from rag_plugins.retrievers.base import BaseRetriever
from rag_plugins.types import Hit

MODES = ("ppr", "bfs", "paths")
ARROW = " → "


class GraphRetriever(BaseRetriever):
    """Ranks chunks by traversing the knowledge base's graph from the query's entities.

    Modes:

    - ``ppr``: personalized PageRank from the seeds (``damping`` = chance to keep walking);
    - ``bfs``: ``hops``-step expansion, each step multiplied by ``decay``;
    - ``paths``: shortest paths between pairs of seeds ("how is X related to Y"); chunks
      on or supporting a path come first, the rest by PageRank.

    Each hit's ``evidence`` holds ``paths`` (readable, seed first, e.g. "Kiss and Tell
    (1945 film) → Shirley Temple → [Shirley Temple]") and ``seeds``. Under a metadata
    filter a hidden chunk is never returned and no path passes through it, and the seeds
    are entities that visible chunks mention (:func:`visible_nodes`). A query that names
    no entity of the graph returns no hits.

    ``hub_penalty`` makes the walk step onto an entity with ``d`` neighbours ``d **
    hub_penalty`` times less often (:func:`~rag_plugins.graph.traversal.hub_discounted`),
    so generic entities ("American", "film") neither carry the walk nor explain a hit;
    degrees count only what the filter lets through. 0 turns it off.

    >>> import tempfile
    >>> from rag_plugins import Document, KnowledgeBase
    >>> kb = KnowledgeBase.open(tempfile.mkdtemp(), graph=True)
    >>> _ = kb.upsert([
    ...     Document("film", "Kiss and Tell is a 1945 film starring Shirley Temple.", {"title": "Kiss and Tell"}),
    ...     Document("st", "Shirley Temple was Chief of Protocol of the United States.", {"title": "Shirley Temple"}),
    ...     Document("x", "Pears grow on trees.", {"title": "Pear"})])
    >>> _ = kb.commit()
    >>> hits = GraphRetriever(kb).retrieve("Who starred in Kiss and Tell?", k=2)
    >>> [h.document_id for h in hits]
    ['film', 'st']
    >>> hits[1].evidence["paths"][0]
    'Kiss and Tell → Shirley Temple → [Shirley Temple]'
    """

    score_floor = 0.0
    unreturned_at_floor = True  # a chunk the walk never reached scores 0

    def __init__(self, kb: SearchableBase, mode: str = "ppr", *, damping: float = 0.7, hops: int = 2,
                 decay: float = 0.5, max_seeds: int = 8, fuzzy_threshold: float = 90.0,
                 dense_threshold: float = 0.8, weights: EdgeWeights | None = None, hub_penalty: float = HUB_PENALTY,
                 name: str = "graph"):
        if mode not in MODES:
            raise InvalidInputError(f"unknown graph traversal {mode!r}; use one of {list(MODES)}")
        check_number(damping, "damping", 0, 1, low_open=True, high_open=True)
        check_number(decay, "decay", 0, 1, low_open=True)
        check_number(hub_penalty, "hub_penalty", 0, 4)
        self.kb = kb
        self.mode = mode
        self.damping = damping
        self.hops = check_k(hops, "hops")
        self.decay = decay
        self.max_seeds = check_k(max_seeds, "max_seeds")
        self.fuzzy_threshold = fuzzy_threshold
        self.dense_threshold = dense_threshold
        self.weights = weights or EdgeWeights()
        self.hub_penalty = float(hub_penalty)
        self.name = name
        self._linker: EntityLinker | None = None

    def seeds(self, query: str, filters: Filters | None = None) -> list[Seed]:
        """The entities ``query`` is linked to under ``filters`` (what the traversal starts from)."""
        snap = self.kb.searchable_snapshot()
        graph = snap.index("graph")
        return self._link(graph.traversal, query, visible_nodes(snap, graph, check_filters(filters)))

    def _embed(self, spans: list[str]) -> np.ndarray:
        vectors = self.kb.embed_queries(spans)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)

    def _link(self, index: GraphIndex, query: str, visible: np.ndarray | None) -> list[Seed]:
        if self._linker is None or self._linker.index is not index:  # a commit made a new index
            self._linker = EntityLinker(index, self.fuzzy_threshold, self.dense_threshold, self.max_seeds)
        return self._linker.link(query, self._embed if self.kb.embedder is not None else None, visible)

    def _retrieve(self, query: str, k: int, filters: Filters | None) -> list[Hit]:
        return self.expand(query, [], k, filters)

    def expand(self, query: str, hits: list[Hit], k: int = 10, filters: Filters | None = None,
               top: int = 5, share: float = 0.5) -> list[Hit]:
        """Traverse from the query's entities and from the chunks of ``hits`` (another
        retriever's best ``top``, weighted 1/rank, together ``share`` of the restart
        mass): the graph neighbourhood of what a first stage found, such as the second
        paragraph of a two-hop question."""
        snap = self.kb.searchable_snapshot()
        graph = snap.index("graph")
        index = graph.traversal
        visible = visible_nodes(snap, graph, check_filters(filters))
        seeds = self._link(index, query, visible)
        chunk_seeds: dict[int, float] = {}
        for rank, hit in enumerate(hits[:top], start=1):
            node = index.position.get("c:" + hit.chunk.id)
            if node is not None and (visible is None or visible[node]):
                chunk_seeds[node] = chunk_seeds.get(node, 0.0) + 1.0 / rank
        if not seeds and not chunk_seeds:
            return []
        adjacency = index.adjacency(self.weights, visible, self.hub_penalty)
        weights = _mix({s.node: s.weight for s in seeds}, chunk_seeds, share)
        if self.mode == "bfs":
            scores = k_hop(adjacency, weights, self.hops, self.decay)
        else:
            scores = personalized_pagerank(adjacency, weights, self.damping)
        chunk_scores = np.where(index.is_chunk if visible is None else index.is_chunk & visible, scores, 0.0)
        explained: dict[int, list[list[int]]] = {}
        if self.mode == "paths" and len(seeds) > 1 and not chunk_seeds:
            chunk_scores, explained = self._path_scores(index, adjacency, seeds, chunk_scores, visible)
        order = np.argsort(-chunk_scores, kind="stable")[:k]
        order = order[chunk_scores[order] > 0]
        targets = order.tolist()
        paths = paths_to(adjacency, [s.node for s in seeds], targets, scores)
        remaining = [t for t in targets if t not in paths and t not in chunk_seeds]
        if remaining and chunk_seeds:  # reached from a first-stage hit (those need no path)
            paths.update(paths_to(adjacency, list(chunk_seeds), remaining, scores))
        seed_info = [s.to_dict() for s in seeds]
        positions = graph.node_positions[order]
        order, positions = order[positions >= 0], positions[positions >= 0]
        hits = self.kb.hits(snap.rows[positions], chunk_scores[order], self.name)
        node_of = {index.chunk_ids[n]: n for n in order.tolist()}
        out = []
        for hit in hits:
            node = node_of[hit.chunk.id]
            routes = explained.get(node) or ([paths[node]] if node in paths else [])
            texts = [ARROW.join(index.name(i) for i in route) for route in routes]
            out.append(replace(hit, evidence={"paths": texts, "seeds": seed_info}))
        return out

    def _path_scores(self, index: GraphIndex, adjacency: Any, seeds: list[Seed], chunk_scores: np.ndarray,
                     visible: np.ndarray | None) -> tuple[np.ndarray, dict[int, list[list[int]]]]:
        """Chunks on a seed-to-seed shortest path, or stating one of its relations, rank
        above every other chunk; shorter paths first."""
        boosted = chunk_scores.copy()
        explained: dict[int, list[list[int]]] = {}
        top = max(float(chunk_scores.max()), 1e-12)
        nodes = [s.node for s in seeds[:4]]
        for i, a in enumerate(nodes):
            for b in nodes[i + 1 :]:
                path = shortest_path(adjacency, a, b)
                if path is None:
                    continue
                bonus = top * (1 + 1.0 / len(path))
                for node in self._path_chunks(index, path, visible):
                    boosted[node] = max(boosted[node], top + bonus + chunk_scores[node])
                    explained.setdefault(node, []).append(path)
        return boosted, explained

    @staticmethod
    def _path_chunks(index: GraphIndex, path: list[int], visible: np.ndarray | None) -> set[int]:
        g = index.kg.graph
        chunks = {n for n in path if index.is_chunk[n]}
        for node in path:  # the chunks about each entity on the path (it titles them)
            if not index.is_chunk[node]:
                name = index.nodes[node]
                chunks.update(index.position[c] for c in g.neighbors(name)
                              if g.edges[name, c].get("title") and c in index.position)
        for u, v in zip(path, path[1:]):
            edge = g.edges[index.nodes[u], index.nodes[v]]
            for chunk_id in edge.get("support", {}):
                node = index.position.get("c:" + chunk_id)
                if node is not None:
                    chunks.add(node)
        return {n for n in chunks if visible is None or visible[n]}


def visible_nodes(snap: IndexedGeneration, graph: KnowledgeGraphIndex, filters: Filters | None) -> np.ndarray | None:
    """Per graph node, whether a search under ``filters`` may use it: the chunks that
    pass and the entities they mention (None when there is no filter)."""
    return graph.visible_nodes(snap.allowed_positions(filters))


def _mix(entities: dict[int, float], chunks: dict[int, float], share: float) -> dict[int, float]:
    """Entity and chunk seeds, each group normalised, chunks taking ``share`` of the mass
    (all of it when the query names no entity)."""
    if not chunks:
        return entities
    if not entities:
        return chunks
    e_total, c_total = sum(entities.values()), sum(chunks.values())
    out = {n: (1 - share) * w / e_total for n, w in entities.items()}
    for n, w in chunks.items():
        out[n] = out.get(n, 0.0) + share * w / c_total
    return out
