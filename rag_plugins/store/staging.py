"""Changes staged for the next commit: documents to upsert (checked, with their content
hash and next version) and ids to delete. Nothing here touches the indexes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from rag_plugins.errors import DocumentNotFoundError, DuplicateIdError, InvalidInputError
from rag_plugins.store.docstore import DocumentStore
from rag_plugins.store.documents import as_document, checked_id, content_hash
from rag_plugins.store.sources import SourceRecord
from rag_plugins.types import Document


@dataclass(frozen=True)
class UpsertResult:
    added: list[str]
    updated: list[str]
    unchanged: list[str]


class Staging:
    """The pending changes of one writer, checked against what ``store`` has committed."""

    def __init__(self, store: DocumentStore):
        self.store = store
        self.upserts: dict[str, tuple[Document, str, int]] = {}
        self.deletes: set[str] = set()
        self.sources: dict[str, SourceRecord | None] = {}  # a sync's records of its files
        self.source_mtimes: dict[str, float] = {}
        self.checked: dict[str, float] = {}  # sources a sync looked at, and when

    def __bool__(self) -> bool:
        return bool(self.upserts or self.deletes or self.sources or self.checked)

    def upsert(self, documents: Iterable[Document | Mapping[str, Any]]) -> UpsertResult:
        if isinstance(documents, (Document, str, bytes)) or isinstance(documents, Mapping):
            raise InvalidInputError("upsert takes an iterable of documents; wrap one document in a list")
        docs = [as_document(d) for d in documents]
        seen: set[str] = set()
        dupes = sorted({d.id for d in docs if d.id in seen or seen.add(d.id)})
        if dupes:
            raise DuplicateIdError(f"document ids repeated in one batch: {dupes[:10]}; keep one document per id")
        committed = self.store.hashes([d.id for d in docs])
        added, updated, unchanged = [], [], []
        staged: dict[str, tuple[Document, str, int] | None] = {}
        for doc in docs:
            digest = content_hash(doc)
            old = committed.get(doc.id)
            if old is not None and old[0] == digest:
                unchanged.append(doc.id)
                staged[doc.id] = None
            else:
                (added if old is None else updated).append(doc.id)
                staged[doc.id] = (doc, digest, 1 if old is None else old[1] + 1)
        for doc_id, entry in staged.items():
            self.deletes.discard(doc_id)
            if entry is None:
                self.upserts.pop(doc_id, None)
            else:
                self.upserts[doc_id] = entry
        return UpsertResult(added, updated, unchanged)

    def delete(self, ids: Iterable[str], missing_ok: bool) -> list[str]:
        if isinstance(ids, str):
            raise InvalidInputError("delete takes an iterable of ids; wrap one id in a list")
        ids = [checked_id(doc_id) for doc_id in ids]
        committed = set(self.store.hashes(ids))
        unknown = [i for i in ids if i not in committed and i not in self.upserts]
        if unknown and not missing_ok:
            raise DocumentNotFoundError(f"no documents with ids {unknown[:10]}; pass missing_ok=True to ignore unknown ids")
        deleted = []
        for doc_id in ids:
            self.upserts.pop(doc_id, None)
            if doc_id in committed:
                self.deletes.add(doc_id)
                deleted.append(doc_id)
        return deleted

    def clear(self) -> None:
        self.upserts.clear()
        self.deletes.clear()
        self.sources.clear()
        self.source_mtimes.clear()
        self.checked.clear()
