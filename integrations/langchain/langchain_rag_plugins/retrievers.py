"""LangChain retriever over a rag-plugins retriever."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from rag_plugins.types import Hit


def hit_to_document(hit: Hit) -> Document:
    """A LangChain Document whose metadata keeps every score, rank and the provenance."""
    return Document(page_content=hit.chunk.text, metadata=hit.flat_metadata(), id=hit.chunk.id)


class RagPluginsRetriever(BaseRetriever):
    """Any rag-plugins retriever (BM25, dense, hybrid, ...) as a LangChain retriever.

    ``k`` and ``filters`` can be overridden per call: ``retriever.invoke(q, k=2)``.
    The async path awaits the core's ``aretrieve``, which searches in a worker thread.

    Example:
        .. code-block:: python

            from rag_plugins import KnowledgeBase
            from langchain_rag_plugins import RagPluginsRetriever

            kb = KnowledgeBase.open("kb")
            retriever = RagPluginsRetriever(retriever=kb.hybrid_retriever(), k=4)
            docs = retriever.invoke("What does BM25 stand for?")
            docs[0].metadata["scores"]  # {'bm25': 7.1, 'dense': 0.62, 'hybrid': 0.032}
    """

    retriever: Any
    """A rag-plugins retriever: anything with ``retrieve`` and ``aretrieve``."""
    k: int = 4
    filters: dict[str, Any] | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None, filters: dict[str, Any] | None = None,
    ) -> list[Document]:
        hits = self.retriever.retrieve(query, k=k or self.k, filters=filters or self.filters)
        return [hit_to_document(h) for h in hits]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None, filters: dict[str, Any] | None = None,
    ) -> list[Document]:
        hits = await self.retriever.aretrieve(query, k=k or self.k, filters=filters or self.filters)
        return [hit_to_document(h) for h in hits]
