"""The knowledge graph, kept in networkx: entity and chunk nodes, mention and relation
edges with their provenance, saved as node-link JSON.

Nodes are ``"e:<entity key>"`` (``kind="entity"``) and ``"c:<chunk id>"``
(``kind="chunk"``). A chunk node keeps the :class:`Extraction` it contributed, so
removing the chunk removes exactly that: its mention edges, its share of every relation
edge's ``support``, and any entity no chunk mentions any more. Applying changes in any
order gives the graph a rebuild from scratch gives.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import networkx as nx
import numpy as np

from rag_plugins.errors import IndexCorruptedError
from rag_plugins.graph.extraction import Extraction
from rag_plugins.graph.names import preferred_name

GRAPH_FILE = "graph.json"
FRAGMENT_WEIGHT = 0.8
SYNONYM_THRESHOLD = 0.9
_GRAPH_FORMAT = 1


def entity_node(key: str) -> str:
    return "e:" + key


def chunk_node(chunk_id: str) -> str:
    return "c:" + chunk_id


class KnowledgeGraph:
    """A networkx graph built from per-chunk extractions.

    >>> from rag_plugins.graph.extraction import Extraction, Mention, Relation
    >>> g = KnowledgeGraph()
    >>> touched = g.apply([], [Extraction("a#0", (Mention("ada lovelace", "Ada Lovelace", 1.0, True),
    ...                                 Mention("charles babbage", "Charles Babbage")),
    ...                         (Relation("ada lovelace", "worked with", "charles babbage"),))],
    ...         {"a#0": "a"})
    >>> g.graph.edges["e:ada lovelace", "e:charles babbage"]["labels"]
    {'worked with': 1}
    >>> touched = g.apply(["a#0"], [], {}); g.graph.number_of_nodes()
    0
    """

    def __init__(self, graph: nx.Graph | None = None):
        self.graph = graph if graph is not None else nx.Graph()
        self._titled: dict[str, int] = {}       # entity key -> number of chunks titled by it
        self._candidates: dict[str, set[str]] = {}  # fragment key -> chunk ids holding it
        for node, data in self.graph.nodes(data=True):
            if data["kind"] == "chunk":
                extraction = Extraction.from_dict(node[2:], data["extraction"])
                self._index(extraction, +1)
        self._eligible = {n[2:] for n in self.graph if self._is_eligible(n)}

    # building ---------------------------------------------------------------------------
    def apply(self, removed: Iterable[str], added: Iterable[Extraction], documents: Mapping[str, str]) -> set[str]:
        """Remove the contributions of chunk ids ``removed``, then add ``added``
        (``documents`` maps each added chunk id to its document id). Returns the keys of
        the entities that changed."""
        g = self.graph
        touched: set[str] = set()
        before = {k for k, n in self._titled.items() if n > 0}
        for chunk_id in removed:
            node = chunk_node(chunk_id)
            if node not in g:
                continue
            extraction = Extraction.from_dict(chunk_id, g.nodes[node]["extraction"])
            for m in extraction.mentions:
                e = g.nodes[entity_node(m.key)]
                _bump(e["forms"], m.name, -1)
                if m.title:
                    _bump(e["titles"], m.name, -1)
                touched.add(m.key)
            for r in extraction.relations:
                u, v = entity_node(r.subject), entity_node(r.object)
                if g.has_edge(u, v):
                    edge = g.edges[u, v]
                    edge["support"].pop(chunk_id, None)
                    _bump(edge["labels"], r.label, -1)
            touched.update(k for k in extraction.candidates if g.has_edge(node, entity_node(k)))
            self._index(extraction, -1)
            g.remove_node(node)
        for extraction in added:
            node = chunk_node(extraction.chunk_id)
            g.add_node(node, kind="chunk", document=documents[extraction.chunk_id],
                       extraction=extraction.to_dict())
            for m in extraction.mentions:
                e = entity_node(m.key)
                if e not in g:
                    g.add_node(e, kind="entity", name=m.name, forms={}, titles={})
                _bump(g.nodes[e]["forms"], m.name, +1)
                if m.title:
                    _bump(g.nodes[e]["titles"], m.name, +1)
                g.add_edge(node, e, kind="mention", weight=m.weight, title=m.title)
                touched.add(m.key)
            for r in extraction.relations:
                u, v = entity_node(r.subject), entity_node(r.object)
                if u == v or u not in g or v not in g:  # relations join entities the chunk mentions
                    continue
                if not g.has_edge(u, v):
                    g.add_edge(u, v, kind="relation", support={}, labels={})
                edge = g.edges[u, v]
                if edge["kind"] == "synonym":
                    edge.update(kind="relation", support={}, labels={})
                edge["support"][extraction.chunk_id] = edge["support"].get(extraction.chunk_id, 0.0) + r.weight
                _bump(edge["labels"], r.label, +1)
            self._index(extraction, +1)
        after = {k for k, n in self._titled.items() if n > 0}
        self._link_fragments(before, after, [e.chunk_id for e in added])
        touched |= before ^ after
        self._tidy(touched)
        return touched

    def _index(self, extraction: Extraction, sign: int) -> None:
        for m in extraction.mentions:
            if m.title:
                self._titled[m.key] = self._titled.get(m.key, 0) + sign
                if not self._titled[m.key]:
                    del self._titled[m.key]
        for key in extraction.candidates:
            holders = self._candidates.setdefault(key, set())
            (holders.add if sign > 0 else holders.discard)(extraction.chunk_id)
            if not holders:
                del self._candidates[key]

    def _link_fragments(self, before: set[str], after: set[str], new_chunks: list[str]) -> None:
        """A fragment ("shirley temple" inside "Shirley Temple Black") is a mention of the
        entity when some document is titled by it."""
        g = self.graph
        for key in before - after:
            for chunk_id in self._candidates.get(key, ()):
                u, v = chunk_node(chunk_id), entity_node(key)
                if g.has_edge(u, v) and g.edges[u, v].get("fragment"):
                    g.remove_edge(u, v)
        links = [(c, key) for key in after - before for c in self._candidates.get(key, ())]
        for chunk_id in new_chunks:
            extraction = g.nodes[chunk_node(chunk_id)]["extraction"]
            links += [(chunk_id, key) for key in extraction["candidates"] if key in after]
        for chunk_id, key in links:
            u, v = chunk_node(chunk_id), entity_node(key)
            if v in g and not g.has_edge(u, v):
                g.add_edge(u, v, kind="mention", weight=FRAGMENT_WEIGHT, title=False, fragment=True)

    def _tidy(self, keys: Iterable[str]) -> None:
        g = self.graph
        for key in keys:
            e = entity_node(key)
            if e not in g:
                continue
            data = g.nodes[e]
            if not data["forms"]:
                g.remove_node(e)
                continue
            for u, v, edge in list(g.edges(e, data=True)):
                if edge["kind"] == "relation" and not edge["support"]:
                    if "synonym" in edge:
                        g.edges[u, v].clear()
                        g.edges[u, v].update(kind="synonym", synonym=edge["synonym"])
                    else:
                        g.remove_edge(u, v)
            data["name"] = preferred_name(data["forms"], data["titles"])

    def _is_eligible(self, node: str) -> bool:
        """Entities worth a name embedding: document titles, and names two chunks share."""
        g = self.graph
        if node not in g or g.nodes[node]["kind"] != "entity":
            return False
        if g.nodes[node]["titles"]:
            return True
        return sum(1 for w in g.neighbors(node) if g.nodes[w]["kind"] == "chunk") >= 2

    def synonym_keys(self) -> list[str]:
        """Entity keys that take part in synonym edges and dense linking, sorted."""
        return sorted(self._eligible)

    def update_synonyms(self, touched: Iterable[str], vectors: Callable[[list[str]], np.ndarray],
                        threshold: float = SYNONYM_THRESHOLD) -> None:
        """Keep a synonym edge between every two eligible entities whose key embeddings
        (``vectors``: unit-normalised, one row per key) have cosine ≥ ``threshold``
        (HippoRAG's synonymy edges). Only entities in ``touched`` are re-examined."""
        g = self.graph
        gone, new = set(), set()
        for key in touched:
            eligible = self._is_eligible(entity_node(key))
            if key in self._eligible and not eligible:
                gone.add(key)
            elif eligible and key not in self._eligible:
                new.add(key)
        for key in gone:
            self._eligible.discard(key)
            node = entity_node(key)
            if node not in g:
                continue
            for u, v, edge in list(g.edges(node, data=True)):
                if edge["kind"] == "synonym":
                    g.remove_edge(u, v)
                elif "synonym" in edge:
                    del g.edges[u, v]["synonym"]
        self._eligible |= new
        if not new:
            return
        everyone = sorted(self._eligible)
        fresh = sorted(new)
        all_vectors = np.asarray(vectors(everyone), dtype=np.float32)
        position = {k: i for i, k in enumerate(everyone)}
        sims = all_vectors[[position[k] for k in fresh]] @ all_vectors.T
        for i, j in zip(*np.nonzero(sims >= threshold)):
            a, b = fresh[i], everyone[j]
            if a == b:
                continue
            u, v = entity_node(a), entity_node(b)
            similarity = round(float(sims[i, j]), 6)
            if g.has_edge(u, v):
                g.edges[u, v]["synonym"] = similarity
            else:
                g.add_edge(u, v, kind="synonym", synonym=similarity)

    # inspection -------------------------------------------------------------------------
    def entity_count(self) -> int:
        return sum(1 for _, kind in self.graph.nodes(data="kind") if kind == "entity")

    def canonical(self) -> dict[str, Any]:
        """Nodes and edges with their attributes, sorted: equal for equal graphs however
        they were built."""
        g = self.graph
        nodes = sorted((n, json.dumps(d, sort_keys=True)) for n, d in g.nodes(data=True))
        edges = sorted((*sorted((u, v)), json.dumps(_rounded(d), sort_keys=True)) for u, v, d in g.edges(data=True))
        return {"nodes": nodes, "edges": edges}

    # persistence -------------------------------------------------------------------------
    def save(self, directory: Path) -> list[str]:
        data = nx.node_link_data(self.graph, edges="edges")
        data["format"] = _GRAPH_FORMAT
        path = directory / GRAPH_FILE
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        return [GRAPH_FILE]

    @classmethod
    def load(cls, directory: Path) -> "KnowledgeGraph":
        path = directory / GRAPH_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.pop("format", None) != _GRAPH_FORMAT:
                raise IndexCorruptedError(f"{path} is in an unknown graph format; rebuild the knowledge base with this "
                                          "release, or open it with the release that wrote it")
            return cls(nx.node_link_graph(data, edges="edges"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptedError(f"cannot load the knowledge graph {path}: {exc}") from exc

    def copy(self) -> "KnowledgeGraph":
        """A deep enough copy to change without touching this one (attribute dicts too)."""
        g = nx.Graph()
        for n, d in self.graph.nodes(data=True):
            g.add_node(n, **{k: dict(v) if isinstance(v, dict) else v for k, v in d.items()})
        for u, v, d in self.graph.edges(data=True):
            g.add_edge(u, v, **{k: dict(x) if isinstance(x, dict) else x for k, x in d.items()})
        clone = KnowledgeGraph.__new__(KnowledgeGraph)
        clone.graph = g
        clone._titled = dict(self._titled)
        clone._candidates = {k: set(v) for k, v in self._candidates.items()}
        clone._eligible = set(self._eligible)
        return clone


def _bump(counts: dict[str, Any], key: str, delta: int) -> None:
    counts[key] = counts.get(key, 0) + delta
    if counts[key] <= 0:
        del counts[key]


def _rounded(data: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(data)
    if "support" in out:
        out["support"] = {k: round(v, 9) for k, v in out["support"].items()}
    return out
