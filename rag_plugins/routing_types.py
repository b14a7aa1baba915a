"""What a router reads and what it decides.

:class:`QueryFeatures` are explainable surface features of a query: exact-match signals
(quoted phrases, identifiers, codes, numbers, section references, rare terms by the
index's own IDF) favour BM25; entities that the knowledge graph links and relational
wording favour the graph; long wording with common terms favours dense vectors. A
:class:`RouteDecision` names the routes to run, their weights and why. The
:class:`~rag_plugins.protocols.Router` protocol turns one into the other;
:class:`rag_plugins.routing.features.QueryAnalyzer` computes the features against a base.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Mapping, Sequence

import numpy as np

from rag_plugins.errors import InvalidInputError

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


@dataclass(frozen=True)
class RouteDecision:
    """The routes to run with their fusion weights (best first, summing to 1), the
    router's confidence in its first choice, and readable reasons.

    ``scores`` holds the router's score for every route it considered (probabilities for
    the learned router). ``fallback`` says why another router decided, when one did.

    >>> d = RouteDecision({"bm25": 1.0}, 0.9, ("quoted phrase + rare terms → bm25",), "rules")
    >>> d.route, d.fused
    ('bm25', False)
    """

    routes: Mapping[str, float]
    confidence: float
    reasons: tuple[str, ...]
    router: str
    scores: Mapping[str, float] = field(default_factory=dict)
    fallback: str | None = None

    def __post_init__(self) -> None:
        if not self.routes:
            raise InvalidInputError("a route decision needs at least one route")
        total = sum(self.routes.values())
        if total <= 0 or any(w < 0 for w in self.routes.values()):
            raise InvalidInputError(f"route weights must be >= 0 with a positive sum, got {dict(self.routes)}")
        ordered = sorted(self.routes.items(), key=lambda kv: -kv[1])
        object.__setattr__(self, "routes", {r: w / total for r, w in ordered})
        object.__setattr__(self, "confidence", float(min(1.0, max(0.0, self.confidence))))

    @property
    def route(self) -> str:
        """The first choice."""
        return next(iter(self.routes))

    @property
    def fused(self) -> bool:
        """Whether more than one route runs (their hits are fused)."""
        return len(self.routes) > 1

    def to_dict(self) -> dict[str, Any]:
        out = {"routes": {r: round(w, 4) for r, w in self.routes.items()}, "confidence": round(self.confidence, 4),
               "reasons": list(self.reasons), "router": self.router}
        if self.scores:
            out["scores"] = {r: round(float(s), 4) for r, s in self.scores.items()}
        if self.fallback:
            out["fallback"] = self.fallback
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RouteDecision":
        return cls(dict(data["routes"]), float(data["confidence"]), tuple(data.get("reasons", ())),
                   str(data.get("router", "")), dict(data.get("scores", {})), data.get("fallback"))
