"""LangChain retriever over a rag-plugins retriever."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from langchain_rag_plugins.convert import hit_to_document, result_to_documents


class RagPluginsRetriever(BaseRetriever):
    """Any rag-plugins retriever (BM25, dense, hybrid, reranked, ...) as a LangChain retriever.

    ``k`` and ``filters`` can be overridden per call: ``retriever.invoke(q, k=2)``.
    The async path awaits the core's ``aretrieve``, which searches in a worker thread.

    Given an ``AbstainingRetriever``, every document carries ``confidence`` and
    ``status`` in its metadata, and when the evidence is too weak the retriever returns
    one explicit insufficient-evidence document (``metadata["abstained"] is True``)
    instead of context.

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
        k, filters = k or self.k, filters or self.filters
        if hasattr(self.retriever, "retrieve_with_confidence"):
            return result_to_documents(self.retriever.retrieve_with_confidence(query, k=k, filters=filters))
        return [hit_to_document(h) for h in self.retriever.retrieve(query, k=k, filters=filters)]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None, filters: dict[str, Any] | None = None,
    ) -> list[Document]:
        k, filters = k or self.k, filters or self.filters
        if hasattr(self.retriever, "aretrieve_with_confidence"):
            return result_to_documents(await self.retriever.aretrieve_with_confidence(query, k=k, filters=filters))
        return [hit_to_document(h) for h in await self.retriever.aretrieve(query, k=k, filters=filters)]

