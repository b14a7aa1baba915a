"""An iterative pipeline as a plain retriever: what ``rag-plugins eval --retriever
iterative`` measures."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rag_plugins.iterative.merge import DEFAULT_KEEP
from rag_plugins.iterative.pipeline import IterativePipeline
from rag_plugins.iterative.trace import IterativeResult
from rag_plugins.protocols import Filters, Retriever
from rag_plugins.retrievers.catalog import CATALOG, RetrieverKind, register_retriever
from rag_plugins.retrievers.base import BaseRetriever
from rag_plugins.types import Hit


class IterativeRetriever(BaseRetriever):
    """Return the merged hits of every iteration of ``pipeline`` (the answer is dropped).

    Each iteration retrieves ``k`` (at least the pipeline's own ``k``); batches run every
    question's loop in lock-step (:meth:`IterativePipeline.batch_run`). Each hit's
    ``evidence["iteration"]`` is the iteration (from 0) that ranked it highest, the earliest
    on a tie: where the loop found it.

    >>> from rag_plugins.generation import ExtractiveBridgeGenerator
    >>> from rag_plugins.iterative import IterRetGen
    >>> multi_hop = IterativeRetriever(IterRetGen(kb.hybrid_retriever(),  # doctest: +SKIP
    ...                                           ExtractiveBridgeGenerator(kb), iterations=2))
    >>> multi_hop.retrieve("Which government position was held by the star of Kiss and Tell?", k=5)  # doctest: +SKIP
    """

    def __init__(self, pipeline: IterativePipeline, name: str = "iterative"):
        self.pipeline = pipeline
        self.name = name

    def _retrieve(self, query: str, k: int, filters: Filters | None) -> list[Hit]:
        return _annotated(self.pipeline.run(query, k=max(k, self.pipeline.k), filters=filters), k)

    def _batch_retrieve(self, queries: list[str], k: int, filters: Filters | None) -> list[list[Hit]]:
        results = self.pipeline.batch_run(queries, k=max(k, self.pipeline.k), filters=filters)
        return [_annotated(r, k) for r in results]


def _annotated(result: IterativeResult, k: int) -> list[Hit]:
    best: dict[str, tuple[int, int]] = {}  # chunk id -> (rank, iteration)
    for iteration, (_, hits) in enumerate(result.hits_by_step()):
        for rank, hit in enumerate(hits):
            if hit.chunk.id not in best or rank < best[hit.chunk.id][0]:
                best[hit.chunk.id] = (rank, iteration)
    return [replace(h, evidence={**dict(h.evidence), "iteration": best.get(h.chunk.id, (0, 0))[1]})
            for h in result.hits[:k]]


def _iterative(kb: Any, base: "str | Retriever" = "hybrid", base_options: Any = None, iterations: int = 2,
               keep: int = DEFAULT_KEEP, generator: Any = None, name: str = "iterative") -> IterativeRetriever:
    """ITER-RETGEN over ``base`` with ``generator`` (default: the offline extractive bridge
    generator, which ranks sentences with the base's embedder)."""
    from rag_plugins.generation import ExtractiveBridgeGenerator
    from rag_plugins.iterative.iter_retgen import IterRetGen

    generator = ExtractiveBridgeGenerator(kb) if generator is None else generator
    return IterativeRetriever(IterRetGen(CATALOG.build_base(kb, base, base_options), generator,
                                         iterations=iterations, keep=keep), name=name)


register_retriever(RetrieverKind(
    "iterative", "ITER-RETGEN: rounds of retrieval, each query extended by what the last round found "
                 "(multi-hop questions).",
    _iterative, needs=("vectors",), base=True,
    options=("base", "base_options", "iterations", "keep", "generator", "name")))
