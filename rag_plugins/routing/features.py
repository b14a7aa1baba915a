"""Query features against a knowledge base: :class:`QueryAnalyzer`.

:class:`QueryFeatures` itself (what a query looks like to each memory) lives in
:mod:`rag_plugins.routing_types` and is re-exported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rag_plugins.routing_types import RELATIONAL_CUES, QueryFeatures

if TYPE_CHECKING:
    from rag_plugins.store.knowledge_base import KnowledgeBase

__all__ = ["RELATIONAL_CUES", "QueryAnalyzer", "QueryFeatures"]


class QueryAnalyzer:
    """Computes :class:`QueryFeatures` against a knowledge base: IDF from its BM25 index,
    linked entities from its knowledge graph (exact, alias and fuzzy matches; no model
    call; under ``filters`` only entities that visible chunks mention), and the query
    embedding when asked for.

    >>> import tempfile
    >>> from rag_plugins import Document, KnowledgeBase
    >>> kb = KnowledgeBase.open(tempfile.mkdtemp())
    >>> _ = kb.upsert([Document("a", "red apples"), Document("b", "green pears")]); _ = kb.commit()
    >>> f = QueryAnalyzer(kb, rare_idf=0.5).features("red kumquats")
    >>> f.rare_terms, f.unknown_terms
    (('red',), ('kumquat',))
    """

    def __init__(self, kb: "KnowledgeBase", rare_idf: float = 6.0, link_entities: bool = True):
        self.kb = kb
        self.rare_idf = rare_idf
        self.link_entities = link_entities
        self._linker: Any = None

    def features(self, query: str, embed: bool = False, filters: Any = None) -> QueryFeatures:
        snap = self.kb.searchable_snapshot()
        idf = snap.index("bm25").idf(query)
        entities: list[str] = []
        if self.link_entities and snap.has("graph"):
            entities = [s.name for s in self._link(snap, query, filters)]
        features = QueryFeatures.of(query, idf, self.rare_idf, entities)
        if embed:
            features = features.with_embedding(self.kb.embed_queries([query])[0])
        return features

    def _link(self, snap: Any, query: str, filters: Any) -> list:
        from rag_plugins.graph.linking import EntityLinker
        from rag_plugins.graph.retriever import visible_nodes

        graph = snap.index("graph")
        if self._linker is None or self._linker.index is not graph.traversal:  # a commit made a new graph
            self._linker = EntityLinker(graph.traversal)
        return self._linker.link(query, visible=visible_nodes(snap, graph, filters))
