"""LangChain retriever over a rag-plugins retriever."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from langchain_rag_plugins.convert import hit_to_document, result_to_documents

ROUTE_EVENT = "rag_plugins_route"
"""The custom callback event (``on_custom_event``) that carries a ``RoutedRetriever``'s decision."""


def _route_event(query: str, result: Any) -> dict[str, Any]:
    return {"query": query, **result.decision.to_dict(), "timings": dict(result.timings)}


class RagPluginsRetriever(BaseRetriever):
    """Any rag-plugins retriever (BM25, dense, hybrid, reranked, ...) as a LangChain retriever.

    ``k`` and ``filters`` can be overridden per call: ``retriever.invoke(q, k=2)``.
    The async path awaits the core's ``aretrieve``, which searches in a worker thread.

    Given a ``RoutedRetriever``, the route decision (routes, confidence, reasons) is in
    each document's ``metadata["evidence"]["route"]`` and is sent to callbacks as the
    custom event ``"rag_plugins_route"`` (``on_custom_event``), even when no document
    comes back.

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
        if hasattr(self.retriever, "retrieve_routed"):
            result = self.retriever.retrieve_routed(query, k=k, filters=filters)
            run_manager.get_child().on_custom_event(ROUTE_EVENT, _route_event(query, result), run_id=run_manager.run_id)
            return [hit_to_document(h) for h in result.hits]
        return [hit_to_document(h) for h in self.retriever.retrieve(query, k=k, filters=filters)]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None, filters: dict[str, Any] | None = None,
    ) -> list[Document]:
        k, filters = k or self.k, filters or self.filters
        if hasattr(self.retriever, "aretrieve_with_confidence"):
            return result_to_documents(await self.retriever.aretrieve_with_confidence(query, k=k, filters=filters))
        if hasattr(self.retriever, "aretrieve_routed"):
            result = await self.retriever.aretrieve_routed(query, k=k, filters=filters)
            await run_manager.get_child().on_custom_event(ROUTE_EVENT, _route_event(query, result),
                                                          run_id=run_manager.run_id)
            return [hit_to_document(h) for h in result.hits]
        return [hit_to_document(h) for h in await self.retriever.aretrieve(query, k=k, filters=filters)]

