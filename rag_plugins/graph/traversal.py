"""Graph traversals over a weighted adjacency matrix: personalized PageRank, k-hop
expansion with decay, the paths that explain a result, and the discount of hub entities.

An entry whose weight is 0 is no edge: a filtered adjacency keeps hidden nodes' entries
with weight 0, and scipy's graph searches would otherwise step along them.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph


def _transition_input(adjacency: sp.csr_matrix) -> np.ndarray:
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    inverse = np.zeros_like(degree)
    np.divide(1.0, degree, out=inverse, where=degree > 0)
    return inverse


def _edges_only(adjacency: sp.csr_matrix) -> sp.csr_matrix:
    """``adjacency`` without stored zeros (a copy when it has any)."""
    if adjacency.nnz and not adjacency.data.all():
        adjacency = adjacency.copy()
        adjacency.eliminate_zeros()
    return adjacency


def hub_discounted(adjacency: sp.csr_matrix, is_entity: np.ndarray, penalty: float) -> sp.csr_matrix:
    """``adjacency`` with every edge's weight times ``h(u)·h(v)``, where ``h`` is
    ``degree ** -penalty`` for an entity and 1 for a chunk: a walk then steps onto an
    entity with ``degree`` neighbours ``degree ** penalty`` times less often than onto a
    specific one (the ``h`` of the node it leaves cancels in its transition). Generic
    entities such as "American" or "United States" connect thousands of chunks and
    otherwise carry a walk anywhere. The matrix stays symmetric; ``penalty`` 0 returns it.

    >>> star = sp.csr_matrix(np.array([[0, 1, 1, 1], [1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]], dtype=float))
    >>> hub_discounted(star, np.array([True, False, False, False]), 1.0).toarray()[0].round(3).tolist()
    [0.0, 0.333, 0.333, 0.333]
    """
    if penalty == 0 or not adjacency.nnz:
        return adjacency
    degree = np.diff(adjacency.indptr).astype(np.float64)
    h = np.where(is_entity & (degree > 0), np.maximum(degree, 1.0) ** -penalty, 1.0)
    rows = np.repeat(np.arange(adjacency.shape[0]), np.diff(adjacency.indptr))
    out = adjacency.copy()
    out.data = out.data * h[rows] * h[out.indices]
    return out


def _seed_vector(n: int, seeds: Mapping[int, float]) -> np.ndarray:
    s = np.zeros(n)
    for node, weight in seeds.items():
        s[node] += weight
    total = s.sum()
    return s / total if total > 0 else s


def personalized_pagerank(adjacency: sp.csr_matrix, seeds: Mapping[int, float], damping: float = 0.5,
                          iterations: int = 50, tolerance: float = 1e-8) -> np.ndarray:
    """Stationary visit probabilities of a walk that follows an edge (chosen by weight)
    with probability ``damping`` and jumps back to the seeds otherwise.

    >>> a = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=float))
    >>> personalized_pagerank(a, {0: 1.0}, damping=0.5).round(3).tolist()
    [0.583, 0.333, 0.083]
    """
    n = adjacency.shape[0]
    s = _seed_vector(n, seeds)
    inverse = _transition_input(adjacency)
    x = s.copy()
    for _ in range(iterations):
        nxt = (1 - damping) * s + damping * (adjacency @ (x * inverse))
        if np.abs(nxt - x).sum() < tolerance:
            return nxt
        x = nxt
    return x


def k_hop(adjacency: sp.csr_matrix, seeds: Mapping[int, float], hops: int = 2, decay: float = 0.5) -> np.ndarray:
    """Breadth-first expansion: the seeds' weight spreads along edges (split by edge
    weight) for ``hops`` steps, multiplied by ``decay`` at each step; a node scores the
    sum over the steps that reach it. Nodes further than ``hops`` score 0.

    >>> a = sp.csr_matrix(np.array([[0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 0]], dtype=float))
    >>> k_hop(a, {0: 1.0}, hops=2, decay=0.5).round(3).tolist()
    [1.125, 0.5, 0.125, 0.0]
    """
    n = adjacency.shape[0]
    frontier = _seed_vector(n, seeds)
    inverse = _transition_input(adjacency)
    total = frontier.copy()
    for _ in range(hops):
        frontier = decay * (adjacency @ (frontier * inverse))
        total += frontier
    return total


def paths_to(adjacency: sp.csr_matrix, sources: list[int], targets: list[int], scores: np.ndarray,
             pool: int = 2000, max_hops: int = 6) -> dict[int, list[int]]:
    """The most probable route of the traversal's walk from any source to each target
    (each step costs ``-log`` of its transition probability), searched among the ``pool``
    best-scoring nodes (where the walk's mass flowed) and the sources; routes over
    ``max_hops`` steps are dropped. Leaving a node of many neighbours is improbable, so
    "X → Shirley Temple" explains a hit before "X → American" does.

    >>> a = sp.csr_matrix(np.array([[0, 1, 1, 0, 0], [1, 0, 0, 1, 0], [1, 0, 0, 1, 1],
    ...                             [0, 1, 1, 0, 0], [0, 0, 1, 0, 0]], dtype=float))
    >>> paths_to(a, [0], [3], np.ones(5))  # via 1 (two neighbours), not via 2 (three)
    {3: [0, 1, 3]}
    """
    if not sources or not targets:
        return {}
    adjacency = _edges_only(adjacency)
    keep = np.argsort(-scores, kind="stable")[:pool]
    keep = np.unique(np.concatenate([keep, np.asarray(sources), np.asarray(targets)]))
    local = {int(node): i for i, node in enumerate(keep.tolist())}
    sub = sp.csr_matrix(adjacency[keep][:, keep])
    sub.eliminate_zeros()
    leaving = np.asarray(adjacency.sum(axis=1)).ravel()[keep]   # a node's total weight in the whole graph
    rows = np.repeat(np.arange(sub.shape[0]), np.diff(sub.indptr))
    # an explicit 0 would be an edge to scipy; the floor keeps certain steps (p = 1) positive
    sub.data = np.maximum(-np.log(sub.data / leaving[rows]), 1e-9)
    _, predecessors, origin = csgraph.dijkstra(sub, directed=True, indices=[local[s] for s in sources],
                                               min_only=True, return_predecessors=True)
    out = {}
    for target in targets:
        i = local[int(target)]
        if origin[i] < 0:
            continue
        path = [i]
        while predecessors[path[-1]] >= 0:
            path.append(int(predecessors[path[-1]]))
        if len(path) - 1 <= max_hops:
            out[int(target)] = [int(keep[j]) for j in reversed(path)]
    return out


def shortest_path(adjacency: sp.csr_matrix, source: int, target: int, max_hops: int = 6) -> list[int] | None:
    """The fewest-hop path between two nodes (ties broken by the search), or None.

    >>> a = sp.csr_matrix((np.array([0.0, 0.0, 1.0, 1.0]), np.array([1, 0, 2, 1]), np.array([0, 1, 3, 4])))
    >>> shortest_path(a, 1, 2), shortest_path(a, 0, 2)  # the stored zero between 0 and 1 is no edge
    ([1, 2], None)
    """
    adjacency = _edges_only(adjacency)
    _, predecessors = csgraph.dijkstra(adjacency, directed=False, indices=source, unweighted=True,
                                       return_predecessors=True, limit=max_hops)
    if source != target and predecessors[target] < 0:
        return None
    path = [target]
    while path[-1] != source:
        path.append(int(predecessors[path[-1]]))
    return list(reversed(path))
