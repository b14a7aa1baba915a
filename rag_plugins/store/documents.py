"""What a document must be to enter a knowledge base, and what its chunks show the indexes."""

from __future__ import annotations

import json
from typing import Any, Mapping

from rag_plugins._validation import check_text, check_texts_in
from rag_plugins.errors import InvalidDocumentError, InvalidInputError
from rag_plugins.store.integrity import document_hash
from rag_plugins.types import Chunk, Document

FRESHNESS_METADATA = ("document_version", "document_changed_at", "document_source_mtime")
"""What each chunk records of the document version it was cut from (set by the commit, so a
hit says how fresh its text is, whatever the document became since)."""
RESERVED_METADATA = frozenset({"heading_path", "char_start", "char_end", "document_id", "chunk_id",
                               *FRESHNESS_METADATA})


def content_hash(document: Document) -> str:
    return document_hash(document.text, document.metadata)


def index_text(chunk: Chunk, with_context: bool) -> str:
    """What the indexes see: :attr:`Chunk.contextual_text`, or the bare text."""
    return chunk.contextual_text if with_context else chunk.text


def as_document(item: Any) -> Document:
    """``item`` (a :class:`Document` or a ``{"id", "text", "metadata"}`` mapping) checked,
    or :class:`~rag_plugins.errors.InvalidDocumentError` saying what to fix."""
    if isinstance(item, Document):
        doc = item
    elif isinstance(item, Mapping):
        unknown = set(item) - {"id", "text", "metadata"}
        if unknown or "id" not in item or "text" not in item:
            raise InvalidDocumentError(
                f"a document mapping needs keys 'id' and 'text' (and optional 'metadata'); got {sorted(item)}"
            )
        doc = Document(item["id"], item["text"], item.get("metadata") or {})
    else:
        raise InvalidDocumentError(f"expected a Document or a mapping, got {type(item).__name__}")
    if not isinstance(doc.id, str) or not doc.id.strip():
        raise InvalidDocumentError(f"document id must be a non-empty str, got {doc.id!r}")
    if not isinstance(doc.text, str):
        raise InvalidDocumentError(
            f"text of document {doc.id!r} must be a str, got {type(doc.text).__name__}; "
            "convert it to text first"
        )
    if not isinstance(doc.metadata, Mapping):
        raise InvalidDocumentError(f"metadata of document {doc.id!r} must be a mapping")
    reserved = RESERVED_METADATA & set(doc.metadata)
    if reserved:
        raise InvalidDocumentError(
            f"metadata of document {doc.id!r} uses reserved keys {sorted(reserved)}; rename them"
        )
    try:
        json.dumps(dict(doc.metadata), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidDocumentError(
            f"metadata of document {doc.id!r} must be JSON-serialisable without NaN ({exc})"
        ) from exc
    check_text(doc.id, "document id", InvalidDocumentError)
    check_text(doc.text, f"text of document {doc.id!r}", InvalidDocumentError)
    check_texts_in(doc.metadata, f"metadata of document {doc.id!r}", InvalidDocumentError)
    return doc


def checked_id(doc_id: Any) -> str:
    if not isinstance(doc_id, str):
        raise InvalidInputError(f"a document id is a str, got {type(doc_id).__name__} {doc_id!r}")
    return check_text(doc_id, "document id")
