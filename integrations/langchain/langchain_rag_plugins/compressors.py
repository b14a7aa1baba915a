"""A LangChain document compressor that reranks with a rag-plugins reranker."""

from __future__ import annotations

import asyncio
from typing import Any, Sequence

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import ConfigDict

from langchain_rag_plugins.convert import documents_to_hits, search_documents
from rag_plugins.tracing import traced_rerank


class RagPluginsReranker(BaseDocumentCompressor):
    """Rerank any retriever's documents with a cross-encoder (or MMR), keeping scores.

    Use it in a ``ContextualCompressionRetriever`` or call ``compress_documents``
    directly. Documents from rag-plugins retrievers keep their per-source scores and
    ranks and gain the reranker's; documents from elsewhere are ranked in the order
    given. With a fitted ``confidence`` estimator, every document carries
    ``confidence``/``status``, and weak evidence returns one explicit
    insufficient-evidence document instead of context. ``acompress_documents`` runs the
    model in a worker thread, so the event loop is not blocked.

    Example:
        .. code-block:: python

            from langchain_classic.retrievers import ContextualCompressionRetriever
            from rag_plugins.rerank import CrossEncoderReranker
            from langchain_rag_plugins import RagPluginsReranker, RagPluginsRetriever

            compressor = RagPluginsReranker(reranker=CrossEncoderReranker(), top_n=4)
            retriever = ContextualCompressionRetriever(
                base_compressor=compressor,
                base_retriever=RagPluginsRetriever(retriever=kb.hybrid_retriever(), k=50),
            )
            docs = retriever.invoke("does vitamin D prevent fractures?")
            docs[0].metadata["scores"]  # {'bm25': 9.2, 'dense': 0.58, 'hybrid': 1.61, 'rerank': 6.8}
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    reranker: Any
    """A rag-plugins reranker: ``CrossEncoderReranker``, ``MMRReranker`` or anything with ``rerank``."""
    top_n: int = 4
    confidence: Any = None
    """An optional fitted ``ConfidenceEstimator`` (``rag-plugins calibrate``)."""
    abstain_below: float | None = None
    """Abstain below this confidence (default: the estimator's threshold)."""

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        policy = None
        if self.confidence is not None:
            from rag_plugins.confidence import AbstentionPolicy

            policy = AbstentionPolicy(self.confidence, self.abstain_below)
        return search_documents(traced_rerank(query, documents_to_hits(documents), self.reranker, self.top_n, policy))

    async def acompress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        return await asyncio.to_thread(self.compress_documents, documents, query, callbacks)
