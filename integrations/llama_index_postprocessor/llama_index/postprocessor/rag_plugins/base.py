"""LlamaIndex node postprocessor over a rag-plugins reranker."""

from __future__ import annotations

import asyncio
from typing import Any

from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.retrievers.rag_plugins.base import (
    emit_search,
    nodes_to_hits,
    search_to_nodes,
)

from rag_plugins.errors import InvalidInputError
from rag_plugins.tracing import traced_rerank


class RagPluginsRerank(BaseNodePostprocessor):
    """Rerank nodes with a rag-plugins reranker, as a query engine's ``node_postprocessors``.

    Each returned node's score is the reranker's; its metadata keeps every earlier
    source's score and rank. With ``confidence`` (a fitted ``ConfidenceEstimator``),
    nodes carry ``confidence``/``status`` and weak evidence yields one explicit
    insufficient-evidence node instead of context. The async path
    (``apostprocess_nodes``) runs the model in a worker thread. Each call sends a
    ``SearchTraceEvent`` (rerank scores, confidence, timings) to the instrumentation
    dispatcher.

    Example:
        .. code-block:: python

            from llama_index.postprocessor.rag_plugins import RagPluginsRerank
            from rag_plugins.rerank import CrossEncoderReranker

            rerank = RagPluginsRerank(CrossEncoderReranker(), top_n=4)
            engine = index.as_query_engine(similarity_top_k=50, node_postprocessors=[rerank])
    """

    top_n: int = Field(default=4, description="Nodes kept after reranking.")
    abstain_below: float | None = Field(default=None, description="Abstain below this confidence.")
    _reranker: Any = PrivateAttr()
    _confidence: Any = PrivateAttr()

    def __init__(self, reranker: Any, top_n: int = 4, confidence: Any = None, abstain_below: float | None = None,
                 **kwargs: Any) -> None:
        super().__init__(top_n=top_n, abstain_below=abstain_below, **kwargs)
        self._reranker = reranker
        self._confidence = confidence

    @classmethod
    def class_name(cls) -> str:
        return "RagPluginsRerank"

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        if query_bundle is None:
            raise InvalidInputError("RagPluginsRerank needs the query: pass query_bundle or query_str")
        policy = None
        if self._confidence is not None:
            from rag_plugins.confidence import AbstentionPolicy

            policy = AbstentionPolicy(self._confidence, self.abstain_below)
        search = traced_rerank(query_bundle.query_str, nodes_to_hits(nodes), self._reranker, self.top_n, policy,
                               name=self.class_name())
        emit_search(search)
        return search_to_nodes(search)

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        return await asyncio.to_thread(self._postprocess_nodes, nodes, query_bundle)
