"""Graph retrieval fused with a first-stage retriever (usually hybrid BM25 + dense)."""

from __future__ import annotations

from typing import Mapping

from rag_plugins._validation import check_k
from rag_plugins.errors import InvalidInputError
from rag_plugins.graph.retriever import GraphRetriever
from rag_plugins.protocols import Filters, Retriever
from rag_plugins.retrievers.base import BaseRetriever
from rag_plugins.retrievers.hybrid import HybridRetriever
from rag_plugins.types import Hit

GRAPH_WEIGHT = 3.0
"""The graph's ranking counts this many times the first stage's in the default fusion
(chosen on the HotpotQA tuning half; ``benchmarks/hotpotqa_graph.py --tune``)."""


class GraphExpandedRetriever(BaseRetriever):
    """Run ``first_stage``, traverse the graph from the query's entities and from the
    first stage's best ``expand_top`` chunks, and fuse the two rankings with the
    foundation's fusion (``method``, ``weights`` keyed by the two retrievers' names).

    Multi-hop questions need this shape: the first stage finds the paragraph the
    question describes, the graph finds the one it leads to. Each hit keeps both
    sources' scores and ranks, and the graph's evidence paths. The defaults (RRF with the
    graph weighted :data:`GRAPH_WEIGHT`, the first stage's top 2 as seeds carrying 95% of the
    restart mass) were the best of a grid on half of HotpotQA dev (benchmarks/hotpotqa_graph.py).
    The graph's ranking leads because the walk already starts from the first stage's best
    hits; the first stage's ranking orders what the walk scores alike. ``keep_first`` puts
    the first stage's best ``keep_first`` hits (in the fused form, with both scores) above
    everything else, so a question the first stage already answered keeps those hits: on
    HotpotQA dev's tuning half, ``keep_first=3`` kept 97.4% of the questions hybrid answered
    alone (96.2% without) at recall_all@5 0.733 against 0.747 (``benchmarks/confident_merge.py``).

    >>> import tempfile
    >>> from rag_plugins import Document, KnowledgeBase
    >>> kb = KnowledgeBase.open(tempfile.mkdtemp(), graph=True)
    >>> _ = kb.upsert([
    ...     Document("film", "Kiss and Tell is a 1945 film starring Shirley Temple.", {"title": "Kiss and Tell"}),
    ...     Document("st", "She was Chief of Protocol of the United States.", {"title": "Shirley Temple"}),
    ...     Document("x", "Pears grow on trees in orchards.", {"title": "Pear"})])
    >>> _ = kb.commit()
    >>> both = GraphExpandedRetriever(kb.bm25_retriever(), kb.graph_retriever())
    >>> [h.document_id for h in both.retrieve("the 1945 film starring its lead", k=2)]
    ['film', 'st']
    """

    def __init__(self, first_stage: Retriever, graph: GraphRetriever, method: str = "rrf",
                 weights: Mapping[str, float] | None = None, expand_top: int = 2, share: float = 0.95,
                 candidate_k: int | None = None, name: str = "graph+hybrid", keep_first: int | None = None):
        if first_stage.name == graph.name:
            raise InvalidInputError(f"the first stage and the graph retriever are both named {graph.name!r}")
        if not 0 <= share <= 1:
            raise InvalidInputError(f"share must be in [0, 1], got {share!r}")
        self.first_stage = first_stage
        self.graph = graph
        self.expand_top = check_k(expand_top, "expand_top")
        self.share = share
        self.keep_first = None if keep_first is None else check_k(keep_first, "keep_first")
        if weights is None:
            weights = {first_stage.name: 1.0, graph.name: GRAPH_WEIGHT}
        self.fusion = HybridRetriever({first_stage.name: first_stage, graph.name: graph}, method=method,
                                      weights=weights, candidate_k=candidate_k, name=name)
        self.name = name

    def _retrieve(self, query: str, k: int, filters: Filters | None) -> list[Hit]:
        depth = self.fusion._depth(k)
        first = self.first_stage.retrieve(query, k=depth, filters=filters)
        return self._fuse(query, first, k, depth, filters)

    def _batch_retrieve(self, queries: list[str], k: int, filters: Filters | None) -> list[list[Hit]]:
        depth = self.fusion._depth(k)
        firsts = self.first_stage.batch_retrieve(queries, k=depth, filters=filters)
        return [self._fuse(q, first, k, depth, filters) for q, first in zip(queries, firsts)]

    def _fuse(self, query: str, first: list[Hit], k: int, depth: int, filters: Filters | None) -> list[Hit]:
        floor = getattr(self.first_stage, "score_floor", float("-inf"))
        found = [h for h in first if h.score > floor]  # BM25 hits scoring 0 matched nothing
        expanded = self.graph.expand(query, found, depth, filters, top=self.expand_top, share=self.share)
        if self.keep_first is None:
            return self.fusion.fuse({self.first_stage.name: first, self.graph.name: expanded}, k)
        fused = self.fusion.fuse({self.first_stage.name: first, self.graph.name: expanded}, depth)
        kept = {h.chunk.id for h in first[: self.keep_first]}
        return ([h for h in fused if h.chunk.id in kept] + [h for h in fused if h.chunk.id not in kept])[:k]
