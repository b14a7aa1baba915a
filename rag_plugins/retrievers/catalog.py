"""Every kind of retriever, by name: its factory, the indexes it reads and its options.

The CLI's ``--retriever`` choices, the router's routes, the agent tools, the MCP server and
the adapters' conformance tests all read :data:`CATALOG`; ``kb.retriever(kind)`` is a thin
call into it. The single-index kinds and their fusions are defined here; the kinds built
on top of other retrievers (``routed``, ``reranked``, ``abstaining``, ``iterative``)
register themselves from their own packages (:func:`register_retriever`), which
:mod:`rag_plugins.catalog` imports, so the catalog is complete once ``rag_plugins`` is.

>>> import tempfile
>>> from rag_plugins import Document, KnowledgeBase
>>> kb = KnowledgeBase.open(tempfile.mkdtemp())
>>> _ = kb.upsert([Document("a", "solar panels")]); _ = kb.commit()
>>> CATALOG.build("bm25", kb).retrieve("solar", k=1)[0].document_id
'a'
>>> CATALOG.available(kb, routes_only=True)
('bm25',)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from rag_plugins.errors import InvalidInputError
from rag_plugins.protocols import Retriever, SearchableBase


@dataclass(frozen=True)
class RetrieverKind:
    """One kind of retriever.

    ``needs`` are the index kinds it cannot work without; ``uses`` those it reads when a
    base has them (a router routes to what is there). ``options`` are the keyword
    arguments ``build`` accepts; ``required`` those without a default (an object the
    caller must supply, such as a reranker). A ``route`` is a memory a router may pick,
    listed cheapest first with its ``summary`` (what the router and the agent tools say
    about it). ``base`` kinds wrap another retriever, named by their ``base`` option,
    and need what it needs too.
    """

    name: str
    summary: str
    factory: Callable[..., Retriever]
    needs: tuple[str, ...] = ("bm25",)
    uses: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    route: bool = False
    base: bool = False


@dataclass
class RetrieverCatalog:
    """The registered :class:`RetrieverKind` s, in registration order."""

    kinds: dict[str, RetrieverKind] = field(default_factory=dict)

    def register(self, kind: RetrieverKind) -> RetrieverKind:
        if kind.name in self.kinds:
            raise InvalidInputError(f"a retriever kind named {kind.name!r} is already registered")
        self.kinds[kind.name] = kind
        return kind

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.kinds)

    @property
    def routes(self) -> tuple[str, ...]:
        """The kinds a router may route to, cheapest first."""
        return tuple(name for name, kind in self.kinds.items() if kind.route)

    @property
    def standalone(self) -> tuple[str, ...]:
        """The kinds buildable from a base alone (no object to supply): the CLI's choices."""
        return tuple(name for name, kind in self.kinds.items() if not kind.required)

    def get(self, name: str) -> RetrieverKind:
        kind = self.kinds.get(name) if isinstance(name, str) else None
        if kind is None:
            raise InvalidInputError(f"unknown retriever {name!r}; use one of {', '.join(self.kinds)}")
        return kind

    def needs(self, name: str, base: str | None = None) -> set[str]:
        """The index kinds retriever ``name`` (over ``base``, for the kinds that wrap one) cannot do without."""
        kind = self.get(name)
        needed = set(kind.needs)
        if kind.base:
            needed |= self.needs(base or "hybrid")
        return needed

    def wants(self, name: str, base: str | None = None) -> set[str]:
        """What a new base should hold for ``name``: what it needs and what it would use."""
        kind = self.get(name)
        return self.needs(name, base) | set(kind.uses) | (self.wants(base or "hybrid") if kind.base else set())

    def available(self, kb: SearchableBase, routes_only: bool = False) -> tuple[str, ...]:
        """The kinds ``kb`` has the indexes for (standalone ones, or only the routes)."""
        held = set(kb.index_kinds)
        names = self.routes if routes_only else self.standalone
        return tuple(name for name in names if self.needs(name) <= held)

    def build(self, name: str, kb: SearchableBase, /, **options: Any) -> Retriever:
        """A retriever of kind ``name`` over ``kb``; unknown or missing options are refused."""
        kind = self.get(name)
        unknown = sorted(set(options) - set(kind.options))
        if unknown:
            raise InvalidInputError(
                f"retriever {name!r} takes no option {', '.join(unknown)}; its options are "
                f"{', '.join(kind.options) or 'none'}"
            )
        missing = [o for o in kind.required if options.get(o) is None]
        if missing:
            raise InvalidInputError(f"retriever {name!r} needs {', '.join(missing)}")
        return kind.factory(kb, **options)

    def build_base(self, kb: SearchableBase, base: str | Retriever, options: Mapping[str, Any] | None = None
                   ) -> Retriever:
        """The retriever a wrapping kind wraps: a kind name built here, or a retriever given."""
        if isinstance(base, str):
            return self.build(base, kb, **dict(options or {}))
        if not isinstance(base, Retriever):
            raise InvalidInputError(f"base must be a retriever kind name or a retriever, got {type(base).__name__}")
        return base


CATALOG = RetrieverCatalog()
"""Every retriever kind (complete once :mod:`rag_plugins` is imported)."""


def register_retriever(kind: RetrieverKind) -> RetrieverKind:
    """Add a kind to :data:`CATALOG` (``kb.retriever(name)``, the CLI, the tools see it)."""
    return CATALOG.register(kind)


def route_options(route: str, fusion: str | None = None, graph_mode: str | None = None) -> dict[str, Any]:
    """The options that give route ``route`` a fusion method for its hybrid part and a
    graph traversal for its graph part (what the CLI's ``--fusion`` and ``--graph-mode`` set).

    >>> route_options("graph+hybrid", "rrf", "ppr")
    {'fusion': 'rrf', 'mode': 'ppr'}
    """
    options: dict[str, Any] = {}
    if fusion is not None and route in ("hybrid", "graph+hybrid"):
        options["method" if route == "hybrid" else "fusion"] = fusion
    if graph_mode is not None and route in ("graph", "graph+hybrid"):
        options["mode"] = graph_mode
    return options


def _bm25(kb: SearchableBase, name: str = "bm25", statistics: str | None = None) -> Retriever:
    from rag_plugins.retrievers.bm25 import BM25Retriever

    return BM25Retriever(kb, name=name, statistics=statistics)


def _dense(kb: SearchableBase, name: str = "dense") -> Retriever:
    from rag_plugins.retrievers.dense import DenseRetriever

    return DenseRetriever(kb, name=name)


def _hybrid(kb: SearchableBase, method: str | None = None, weights: Mapping[str, float] | None = None,
            **options: Any) -> Retriever:
    from rag_plugins.retrievers.fusion import HYBRID_FUSION, HYBRID_WEIGHTS
    from rag_plugins.retrievers.hybrid import HybridRetriever

    method = HYBRID_FUSION if method is None else method
    if weights is None and method == HYBRID_FUSION:  # the default setting is a method and its weights
        weights = HYBRID_WEIGHTS
    return HybridRetriever([_bm25(kb), _dense(kb)], method=method, weights=weights, **options)


def _graph(kb: SearchableBase, mode: str = "ppr", **options: Any) -> Retriever:
    from rag_plugins.graph.retriever import GraphRetriever

    return GraphRetriever(kb, mode, **options)


def _graph_hybrid(kb: SearchableBase, fusion: str | None = None, mode: str = "ppr", **options: Any) -> Retriever:
    from rag_plugins.graph.combined import GraphExpandedRetriever

    return GraphExpandedRetriever(_hybrid(kb, method=fusion), _graph(kb, mode), **options)


register_retriever(RetrieverKind(
    "bm25", "Keyword search (BM25). Best for exact identifiers, codes, quoted phrases, section references, "
            "product or drug names and rare technical terms.",
    _bm25, options=("name", "statistics"), route=True))
register_retriever(RetrieverKind(
    "dense", "Semantic vector search. Best for paraphrased or descriptive questions whose wording may differ "
             "from the documents'.",
    _dense, needs=("vectors",), options=("name",), route=True))
register_retriever(RetrieverKind(
    "hybrid", "Keyword and semantic search fused. A robust default when the query mixes exact terms with "
              "descriptive wording.",
    _hybrid, needs=("bm25", "vectors"), options=("method", "weights", "rrf_k", "candidate_k", "name"), route=True))
register_retriever(RetrieverKind(
    "graph", "Knowledge-graph traversal from the entities the query names. Best for how two named things are "
             "related, and for facts about an entity's neighbours.",
    _graph, needs=("graph",),
    options=("mode", "damping", "hops", "decay", "max_seeds", "fuzzy_threshold", "dense_threshold", "weights",
             "hub_penalty", "name"), route=True))
register_retriever(RetrieverKind(
    "graph+hybrid", "Hybrid search, then the knowledge graph expanded from its best hits. Best for multi-hop "
                    "questions that bridge two named entities or documents.",
    _graph_hybrid, needs=("bm25", "vectors", "graph"),
    options=("fusion", "mode", "method", "weights", "expand_top", "share", "candidate_k", "keep_first", "name"),
    route=True))
