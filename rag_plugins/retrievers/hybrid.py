"""Hybrid retrieval: run several retrievers and fuse their rankings."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from rag_plugins._validation import check_k, check_weight
from rag_plugins.errors import InvalidInputError
from rag_plugins.protocols import Filters, Retriever
from rag_plugins.retrievers.base import BaseRetriever
from rag_plugins.retrievers.fusion import (
    FUSION_METHODS, convex_combination, reciprocal_rank_fusion,
)
from rag_plugins.types import Hit


class HybridRetriever(BaseRetriever):
    """Fuse any retrievers with ``rrf``, ``relative_score``, ``zscore`` or ``convex``.

    Every fused hit keeps each source's own score and rank in ``hit.scores`` /
    ``hit.ranks``, plus the fused score under this retriever's name; ``provenance``
    names the sources that returned it. Each source is asked for ``candidate_k`` hits
    (default ``max(k, 50)``) before fusion.

    >>> import tempfile
    >>> from rag_plugins import Document, KnowledgeBase
    >>> kb = KnowledgeBase.open(tempfile.mkdtemp())
    >>> _ = kb.upsert([Document("a", "red apples"), Document("b", "green apples and pears")]); _ = kb.commit()
    >>> two = HybridRetriever([kb.bm25_retriever("lexical"), kb.bm25_retriever("again")],
    ...                       weights={"lexical": 2.0, "again": 1.0})
    >>> hit = two.retrieve("pears", k=1)[0]
    >>> hit.chunk.id, sorted(hit.scores), hit.ranks["lexical"]
    ('b#0', ['again', 'hybrid', 'lexical'], 1)
    """

    def __init__(
        self,
        retrievers: Sequence[Retriever] | Mapping[str, Retriever],
        method: str = "rrf",
        weights: Mapping[str, float] | None = None,
        rrf_k: int = 60,
        candidate_k: int | None = None,
        name: str = "hybrid",
    ):
        if isinstance(retrievers, Mapping):
            named = dict(retrievers)
        else:
            named = {}
            for r in retrievers:
                if r.name in named:
                    raise InvalidInputError(f"two retrievers are named {r.name!r}; give each a distinct name")
                named[r.name] = r
        if not named:
            raise InvalidInputError("HybridRetriever needs at least one retriever")
        if method not in FUSION_METHODS:
            raise InvalidInputError(f"unknown fusion method {method!r}; use one of {sorted(FUSION_METHODS)}")
        weights = dict(weights or {})
        unknown = set(weights) - set(named)
        if unknown:
            raise InvalidInputError(f"weights name unknown retrievers {sorted(unknown)}; known: {sorted(named)}")
        self.weights = {n: check_weight(weights.get(n, 1.0), f"weight of {n!r}") for n in named}
        if not any(self.weights.values()):
            raise InvalidInputError("at least one fusion weight must be > 0")
        if name in named:
            raise InvalidInputError(f"the hybrid retriever's name {name!r} clashes with a source's name")
        self.retrievers = named
        self.method = method
        self.rrf_k = check_k(rrf_k, "rrf_k")
        self.candidate_k = None if candidate_k is None else check_k(candidate_k, "candidate_k")
        self.name = name

    def _depth(self, k: int) -> int:
        return max(self.candidate_k or 50, k)

    def _active(self) -> dict[str, Retriever]:
        """Sources with weight 0 contribute nothing, so they are not queried at all."""
        return {n: r for n, r in self.retrievers.items() if self.weights[n] > 0}

    def _retrieve(self, query: str, k: int, filters: Filters | None) -> list[Hit]:
        depth = self._depth(k)
        results = {n: r.retrieve(query, k=depth, filters=filters) for n, r in self._active().items()}
        return self.fuse(results, k)

    def _batch_retrieve(self, queries: list[str], k: int, filters: Filters | None) -> list[list[Hit]]:
        depth = self._depth(k)
        per_source = {n: r.batch_retrieve(queries, k=depth, filters=filters) for n, r in self._active().items()}
        return [self.fuse({n: per_source[n][i] for n in per_source}, k) for i in range(len(queries))]

    def fuse(self, results: Mapping[str, list[Hit]], k: int) -> list[Hit]:
        """Fuse per-source hit lists (best first) into the top ``k``.

        Hits at a source's ``score_floor`` (BM25 score 0: no query term matched) carry no
        evidence and are left out, so they earn no rank credit.
        """
        results = {
            n: [h for h in hits if h.score > getattr(self.retrievers[n], "score_floor", float("-inf"))]
            for n, hits in results.items()
        }
        lists = {n: [(h.chunk.id, h.score) for h in hits] for n, hits in results.items()}
        if self.method == "rrf":
            fused = reciprocal_rank_fusion(lists, self.weights, self.rrf_k)
        elif self.method == "convex":
            floors = {n: getattr(self.retrievers[n], "score_floor", None) for n in lists}
            fused = convex_combination(lists, self.weights, floors)
        else:  # relative_score, zscore
            # a source that leaves out what it did not match, and ran out of matches before the
            # depth, had every other candidate at its floor: normalise from there
            depth = self._depth(k)
            floors = {n: self.retrievers[n].score_floor for n in lists
                      if getattr(self.retrievers[n], "unreturned_at_floor", False) and len(lists[n]) < depth}
            fused = FUSION_METHODS[self.method](lists, self.weights, floors)
        by_key: dict[str, dict[str, Any]] = {}
        for source, hits in results.items():
            for rank, hit in enumerate(hits, start=1):
                entry = by_key.setdefault(hit.chunk.id, {"chunk": hit.chunk, "scores": {}, "ranks": {}, "from": [],
                                                         "evidence": {}})
                entry["scores"][source] = hit.score
                entry["ranks"][source] = rank
                entry["from"].append(source)
                entry["evidence"].update(hit.evidence)
        order = sorted(fused, key=lambda key: (-fused[key], key))[:k]
        out = []
        for rank, key in enumerate(order, start=1):
            e = by_key[key]
            scores = {**e["scores"], self.name: fused[key]}
            ranks = {**e["ranks"], self.name: rank}
            out.append(Hit(e["chunk"], fused[key], scores, ranks, tuple(e["from"]), e["evidence"]))
        return out
