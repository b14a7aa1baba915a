"""LangChain retriever over a rag-plugins retriever."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import field_validator

from langchain_rag_plugins.convert import search_documents
from rag_plugins.filter_policy import FilterPolicy, narrow
from rag_plugins.protocols import Filters
from rag_plugins.tracing import TracedSearch, atraced_search, traced_search

ROUTE_EVENT = "rag_plugins_route"
"""The custom callback event (``on_custom_event``) that carries a ``RoutedRetriever``'s decision."""


def _route_event(search: TracedSearch) -> dict[str, Any]:
    return {"query": search.query, **search.route, "timings": dict(search.timings)}


class RagPluginsRetriever(BaseRetriever):
    """Any rag-plugins retriever (BM25, dense, hybrid, reranked, ...) as a LangChain retriever.

    ``k`` and ``filters`` can be overridden per call: ``retriever.invoke(q, k=2)``.
    ``pinned_filters`` (e.g. ``{"tenant": "A"}``) apply to every search and ``filters``,
    here or per call, can only narrow them. The async path runs the whole search in a
    worker thread, so the event loop keeps serving while it runs.

    Every document's metadata holds what callbacks need to see (``on_retriever_end``
    receives these documents): each source's ``scores`` and ``ranks`` (and the
    reranker's, after one), the search's ``timings`` in seconds, the route decision in
    ``evidence["route"]``, and ``confidence``/``status`` when the retriever judges them.

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
    pinned_filters: dict[str, Any] | None = None
    """A filter every search runs under, whatever ``filters`` say."""

    @field_validator("pinned_filters")
    @classmethod
    def _check_pinned(cls, value: dict[str, Any] | None) -> Any:
        return FilterPolicy(value).pinned

    def _filters(self, filters: dict[str, Any] | None) -> Filters | None:
        """The caller's filters under the pinned ones (traced_search checks the result)."""
        return narrow(self.pinned_filters, self.filters if filters is None else filters)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None, filters: dict[str, Any] | None = None,
    ) -> list[Document]:
        search = traced_search(self.retriever, query, k or self.k, self._filters(filters))
        if search.route is not None:
            run_manager.get_child().on_custom_event(ROUTE_EVENT, _route_event(search), run_id=run_manager.run_id)
        return search_documents(search)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None, filters: dict[str, Any] | None = None,
    ) -> list[Document]:
        search = await atraced_search(self.retriever, query, k or self.k, self._filters(filters))
        if search.route is not None:
            await run_manager.get_child().on_custom_event(ROUTE_EVENT, _route_event(search), run_id=run_manager.run_id)
        return search_documents(search)
