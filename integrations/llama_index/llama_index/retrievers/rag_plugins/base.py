"""LlamaIndex retriever over a rag-plugins retriever."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rag_plugins.types import Hit

# Kept in metadata for the caller, but out of what the LLM and the embedder read.
_SCORE_KEYS = ["score", "scores", "ranks", "provenance", "chunk_id", "position", "char_start", "char_end"]


def hit_to_node(hit: Hit) -> NodeWithScore:
    chunk = hit.chunk
    metadata = hit.flat_metadata()
    node = TextNode(
        id_=chunk.id,
        text=chunk.text,
        metadata=metadata,
        excluded_llm_metadata_keys=_SCORE_KEYS + ["heading_path"],
        excluded_embed_metadata_keys=_SCORE_KEYS + ["heading_path"],
    )
    node.set_content(chunk.text)
    return NodeWithScore(node=node, score=hit.score)


class RagPluginsRetriever(BaseRetriever):
    """Any rag-plugins retriever (BM25, dense, hybrid, ...) as a LlamaIndex retriever.

    Use it alone or in a ``RetrieverQueryEngine``. ``_aretrieve`` awaits the core's
    ``aretrieve``, which searches in a worker thread.

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
        hits = self._retriever.retrieve(query_bundle.query_str, k=self.similarity_top_k, filters=self.filters)
        return [hit_to_node(h) for h in hits]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = await self._retriever.aretrieve(query_bundle.query_str, k=self.similarity_top_k, filters=self.filters)
        return [hit_to_node(h) for h in hits]
