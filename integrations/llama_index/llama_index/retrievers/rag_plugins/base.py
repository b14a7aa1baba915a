"""LlamaIndex retriever over a rag-plugins retriever."""

from __future__ import annotations

from typing import Any, Sequence

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode

from rag_plugins.types import Hit

# Kept in metadata for the caller, but out of what the LLM and the embedder read.
_SCORE_KEYS = ["score", "scores", "ranks", "provenance", "evidence", "chunk_id", "position", "char_start", "char_end"]


def hit_to_node(hit: Hit, extra: dict[str, Any] | None = None) -> NodeWithScore:
    """A node whose score is the hit's score and whose metadata keeps every source's score
    and rank (out of what the LLM and the embedder read)."""
    chunk = hit.chunk
    metadata = {**hit.flat_metadata(), **(extra or {})}
    node = TextNode(
        id_=chunk.id,
        text=chunk.text,
        metadata=metadata,
        excluded_llm_metadata_keys=_SCORE_KEYS + ["heading_path", *(extra or {})],
        excluded_embed_metadata_keys=_SCORE_KEYS + ["heading_path", *(extra or {})],
    )
    node.set_content(chunk.text)
    return NodeWithScore(node=node, score=hit.score)


def nodes_to_hits(nodes: Sequence[NodeWithScore]) -> list[Hit]:
    """Our own nodes come back as the hits they were; others become hits ranked in the
    order given (source ``"input"``)."""
    hits = []
    for i, n in enumerate(nodes):
        metadata = dict(n.node.metadata)
        if "document_id" not in metadata and n.node.ref_doc_id:
            metadata["document_id"] = n.node.ref_doc_id
        hits.append(Hit.from_flat(n.node.node_id, n.node.get_content(metadata_mode=MetadataMode.NONE), metadata,
                                  score=n.score if n.score is not None else 0.0, rank=i + 1))
    return hits


def result_to_nodes(result: Any) -> list[NodeWithScore]:
    """A ``RetrievalResult`` as nodes: one explicit insufficient-evidence node when it
    abstained, else the hits with ``confidence``, ``status`` and ``abstained`` in metadata."""
    if result.abstained:
        notice = TextNode(id_="rag-plugins:insufficient-evidence", text=result.message,
                          metadata={"abstained": True, "confidence": result.confidence.value,
                                    "status": result.confidence.status},
                          excluded_llm_metadata_keys=["abstained", "confidence", "status"],
                          excluded_embed_metadata_keys=["abstained", "confidence", "status"])
        return [NodeWithScore(node=notice, score=result.confidence.value)]
    extra = {"confidence": result.confidence.value, "status": result.confidence.status, "abstained": False}
    return [hit_to_node(h, extra) for h in result.hits]


class RagPluginsRetriever(BaseRetriever):
    """Any rag-plugins retriever (BM25, dense, hybrid, ...) as a LlamaIndex retriever.

    Use it alone or in a ``RetrieverQueryEngine``. ``_aretrieve`` awaits the core's
    ``aretrieve``, which searches in a worker thread. Given an ``AbstainingRetriever``,
    nodes carry ``confidence``/``status``, and weak evidence yields one explicit
    insufficient-evidence node (``metadata["abstained"] is True``) instead of context.
    Given a ``RoutedRetriever``, each node's ``metadata["evidence"]["route"]`` holds the
    route decision, and a ``RouteDecisionEvent`` goes to the instrumentation dispatcher.

    Example:
        .. code-block:: python

            from rag_plugins import KnowledgeBase
            from llama_index.retrievers.rag_plugins import RagPluginsRetriever

            kb = KnowledgeBase.open("kb")
            retriever = RagPluginsRetriever(kb.hybrid_retriever(), similarity_top_k=4)
            nodes = retriever.retrieve("What does BM25 stand for?")
            nodes[0].node.metadata["scores"]  # {'bm25': 7.1, 'dense': 0.62, 'hybrid': 0.032}
    """

    def __init__(
        self,
        retriever: Any,
        similarity_top_k: int = 4,
        filters: dict[str, Any] | None = None,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        self._retriever = retriever
        self.similarity_top_k = similarity_top_k
        self.filters = filters
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query, k, filters = query_bundle.query_str, self.similarity_top_k, self.filters
        if hasattr(self._retriever, "retrieve_with_confidence"):
            return result_to_nodes(self._retriever.retrieve_with_confidence(query, k=k, filters=filters))
        if hasattr(self._retriever, "retrieve_routed"):
            from llama_index.retrievers.rag_plugins.routing import emit_route_decision

            result = self._retriever.retrieve_routed(query, k=k, filters=filters)
            emit_route_decision(query, result)
            return [hit_to_node(h) for h in result.hits]
        return [hit_to_node(h) for h in self._retriever.retrieve(query, k=k, filters=filters)]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query, k, filters = query_bundle.query_str, self.similarity_top_k, self.filters
        if hasattr(self._retriever, "aretrieve_with_confidence"):
            return result_to_nodes(await self._retriever.aretrieve_with_confidence(query, k=k, filters=filters))
        if hasattr(self._retriever, "aretrieve_routed"):
            from llama_index.retrievers.rag_plugins.routing import emit_route_decision

            result = await self._retriever.aretrieve_routed(query, k=k, filters=filters)
            emit_route_decision(query, result)
            return [hit_to_node(h) for h in result.hits]
        return [hit_to_node(h) for h in await self._retriever.aretrieve(query, k=k, filters=filters)]
