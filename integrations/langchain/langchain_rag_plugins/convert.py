"""Hits to LangChain Documents and back, keeping every score, rank and the provenance."""

from __future__ import annotations

from typing import Any, Sequence

from langchain_core.documents import Document

from rag_plugins.types import Hit


def hit_to_document(hit: Hit, extra: dict[str, Any] | None = None) -> Document:
    """A LangChain Document whose metadata keeps every score, rank and the provenance."""
    return Document(page_content=hit.chunk.text, metadata={**hit.flat_metadata(), **(extra or {})}, id=hit.chunk.id)


def documents_to_hits(documents: Sequence[Document]) -> list[Hit]:
    """Our own documents come back as the hits they were; others become hits ranked in
    their given order (source ``"input"``)."""
    return [
        Hit.from_flat(doc.id or f"doc-{i}", doc.page_content, doc.metadata, rank=i + 1)
        for i, doc in enumerate(documents)
    ]


def insufficient_evidence_document(message: str | None, metadata: dict[str, Any]) -> Document:
    """The explicit notice returned instead of context when a pipeline abstains."""
    return Document(page_content=message or "Insufficient evidence.", id="rag-plugins:insufficient-evidence",
                    metadata={"abstained": True, **metadata})


def search_documents(search: Any) -> list[Document]:
    """A :class:`~rag_plugins.tracing.TracedSearch` as documents: the notice when it
    abstained, else the hits with the search's timings (and confidence) in metadata."""
    if search.abstained:
        return [insufficient_evidence_document(search.message, {**search.confidence, "timings": dict(search.timings)})]
    extra = search.hit_metadata()
    return [hit_to_document(h, extra) for h in search.hits]
