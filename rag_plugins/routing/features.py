"""Explainable query features: what a query looks like to each memory.

Exact-match signals (quoted phrases, identifiers, codes, numbers, section references,
rare terms by the index's own IDF) favour BM25; entities that the knowledge graph links
and relational wording favour the graph; long wording with common terms favours dense
vectors. Routers read these features; the learned router also reads the query embedding.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:
    from rag_plugins.store.knowledge_base import KnowledgeBase

_QUOTED = re.compile(r"[\"“”]([^\"“”]{2,})[\"“”]|(?<!\w)'([^']{3,})'(?!\w)")
_SECTION = re.compile(
    r"(?:§+\s*\d[\w.()\-]*|\b(?:section|sec\.|article|art\.|clause|chapter|chap\.|paragraph|para\.|"
    r"rule|appendix|annex|table|figure|fig\.|eq\.|equation)\s*\(?\d[\w.()\-]*)",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"\w(?:[\w.\-/:]*\w)?(?:\(\w+\))?")
_NUMBER = re.compile(r"^[+\-]?\d+(?:[.,]\d+)*%?$")
_WH = frozenset({"who", "whom", "whose", "what", "which", "when", "where", "why", "how"})
RELATIONAL_CUES = frozenset({
    "related", "relation", "relationship", "connected", "connection", "between", "both", "same",
    "common", "shared", "compare", "compared", "versus", "vs", "than", "also", "either", "neither",
    "first", "older", "younger", "earlier", "later", "longer", "larger", "bigger", "more", "fewer",
})


def _identifier(token: str) -> bool:
    """``E404``, ``ABC-123``, ``snake_case``, ``camelCase``, ``v2.1``, ``ISO/IEC``: tokens no
    dictionary holds, found exactly or not at all."""
    if _NUMBER.match(token) or len(token) < 2:
        return False
    letters = sum(c.isalpha() for c in token)
    digits = sum(c.isdigit() for c in token)
    if letters and digits:
        return True
    if "_" in token.strip("_"):
        return True
    inner_upper = any(a.islower() and b.isupper() for a, b in zip(token, token[1:]))  # camelCase, not Jean-Luc
    all_caps = letters >= 2 and token.replace("-", "").replace("/", "").isupper()
    return inner_upper or (all_caps and len(token) <= 10)


@dataclass(frozen=True)
class QueryFeatures:
    """The features of one query. ``vector()`` gives the numeric ones, in the order of
    :attr:`NAMES`, for learned routers; ``embedding`` is filled only when a router needs it.

    >>> f = QueryFeatures.of('error E404 "not found" in Section 4.2(b)')
    >>> f.quoted, f.identifiers, f.section_refs
    (('not found',), ('E404',), ('Section 4.2(b)',))
    """

    query: str
    words: int
    question: bool
    quoted: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    section_refs: tuple[str, ...] = ()
    rare_terms: tuple[str, ...] = ()
    unknown_terms: tuple[str, ...] = ()
    max_idf: float = 0.0
    mean_idf: float = 0.0
    entities: tuple[str, ...] = ()
    relational_cues: tuple[str, ...] = ()
    capitalised: int = 0
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)

    NAMES = ("log_words", "question", "quoted", "identifiers", "numbers", "section_refs", "rare_terms",
             "unknown_terms", "max_idf", "mean_idf", "entities", "relational_cues", "capitalised")

    @classmethod
    def of(cls, query: str, idf: dict[str, float] | None = None, rare_idf: float = 6.0,
           entities: Sequence[str] = ()) -> "QueryFeatures":
        """Surface features of ``query``; ``idf`` maps analysed terms to their IDF in the
        index (absent terms are unknown to it), ``entities`` are the names it links."""
        tokens = _TOKEN.findall(query)
        words = re.findall(r"\w+", query)
        lower = [w.lower() for w in words]
        quoted = tuple(a or b for a, b in _QUOTED.findall(query))
        sections = tuple(m.group().strip() for m in _SECTION.finditer(query))
        idf = idf or {}
        rare = tuple(t for t, v in idf.items() if v >= rare_idf and not math.isinf(v))
        unknown = tuple(t for t, v in idf.items() if math.isinf(v))
        finite = [v for v in idf.values() if not math.isinf(v)]
        capitalised = sum(1 for i, w in enumerate(words) if i > 0 and w[:1].isupper() and not w.isupper())
        return cls(
            query=query,
            words=len(words),
            question=query.rstrip().endswith("?") or (bool(lower) and lower[0] in _WH),
            quoted=quoted,
            identifiers=tuple(dict.fromkeys(t for t in tokens if _identifier(t)
                                            and not any(t in ref for ref in (*sections, *quoted)))),
            numbers=tuple(t for t in tokens if _NUMBER.match(t)),
            section_refs=sections,
            rare_terms=rare,
            unknown_terms=unknown,
            max_idf=max(finite, default=0.0),
            mean_idf=sum(finite) / len(finite) if finite else 0.0,
            entities=tuple(entities),
            relational_cues=tuple(dict.fromkeys(w for w in lower if w in RELATIONAL_CUES)),
            capitalised=capitalised,
        )

    def vector(self) -> np.ndarray:
        """The numeric features, in the order of :attr:`NAMES` (float64)."""
        return np.array([
            math.log1p(self.words), float(self.question), len(self.quoted), len(self.identifiers),
            len(self.numbers), len(self.section_refs), len(self.rare_terms), len(self.unknown_terms),
            self.max_idf, self.mean_idf, len(self.entities), len(self.relational_cues), self.capitalised,
        ], dtype=np.float64)

    def with_embedding(self, embedding: np.ndarray) -> "QueryFeatures":
        return replace(self, embedding=np.asarray(embedding, dtype=np.float32))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("embedding")
        return out


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
