"""The knowledge base: one directory holding documents, chunks and every index.

Layout::

    kb/
      kb.sqlite                  documents, chunks, settings, embedding cache (SQLite)
      writer.lock                held by the one writer (pid, host, since inside)
      generations/000007/        a committed generation's index files + manifest.json
      generations/000007.lock    held shared by every reader of generation 7

``upsert`` and ``delete`` stage changes; ``commit`` makes them visible atomically. It
writes the next generation's files, fsyncs them and their manifest, then switches the
generation number in the same SQLite transaction that retires the replaced chunk rows and
adds the new ones. A crash at any point leaves the previous generation loadable.

Any number of readers (``read_only=True``: an MCP server, an API, a notebook) may search
while one writer commits. Each reader holds a lease on the generation it reads and moves
to the newest one on :meth:`KnowledgeBase.refresh` (or by itself, on a cheap check before
each search). Only the writer removes old generations and retired rows, and only those no
lease holds, so a reader never loses the generation under it and never harms the writer.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

from rag_plugins._progress import progress_bar
from rag_plugins._search_scope import pinned
from rag_plugins._validation import check_text, check_texts_in
from rag_plugins.chunking import StructureAwareChunker
from rag_plugins.embeddings.validation import check_embeddings
from rag_plugins.errors import (
    DocumentNotFoundError,
    DuplicateIdError,
    EmbeddingModelMismatchError,
    EmptyIndexError,
    IndexCorruptedError,
    InvalidDocumentError,
    InvalidInputError,
    KnowledgeBaseLockedError,
    ReadOnlyKnowledgeBaseError,
    UnsupportedFormatVersionError,
)
from rag_plugins.filters import MetadataIndex, builtin_metadata
from rag_plugins.graph.extraction import Extraction, Extractor
from rag_plugins.protocols import Embedder
from rag_plugins.retrievers.bm25_index import BM25_STATISTICS, BM25Index, BM25Params, analyze_many
from rag_plugins.retrievers.vector_index import VectorIndex, VectorIndexConfig
from rag_plugins.store.docstore import ChunkRecord, DocumentStore
from rag_plugins.store.integrity import checksum_array, chunks_digest, document_hash, settings_digest
from rag_plugins.store.locks import GenerationLease, WriterLock, generation_name, try_remove_generation
from rag_plugins.store.manifest import FORMAT_VERSION, check_format_version, read_manifest, write_manifest
from rag_plugins.store.migrations import upgrade_1_to_2
from rag_plugins.store.snapshot import Snapshot
from rag_plugins.text.analysis import Analyzer
from rag_plugins.types import Chunk, Document, Hit

if TYPE_CHECKING:
    from rag_plugins.graph.retriever import GraphRetriever
    from rag_plugins.graph.store import KnowledgeGraph
    from rag_plugins.retrievers.bm25 import BM25Retriever
    from rag_plugins.retrievers.dense import DenseRetriever
    from rag_plugins.retrievers.hybrid import HybridRetriever

_RESERVED_METADATA = {"heading_path", "char_start", "char_end", "document_id", "chunk_id"}
_EMBED_SLICE = 256
_QUERY_CACHE = 1024


@dataclass(frozen=True)
class UpsertResult:
    added: list[str]
    updated: list[str]
    unchanged: list[str]


@dataclass(frozen=True)
class CommitResult:
    generation: int
    documents_upserted: int
    documents_deleted: int
    chunks_added: int
    chunks_removed: int
    chunks_embedded: int
    seconds: float
    chunks_extracted: int = 0


def content_hash(document: Document) -> str:
    return document_hash(document.text, document.metadata)


def index_text(chunk: Chunk, with_context: bool) -> str:
    """What the indexes see: :attr:`Chunk.contextual_text`, or the bare text."""
    return chunk.contextual_text if with_context else chunk.text


def _as_document(item: Any) -> Document:
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
    reserved = _RESERVED_METADATA & set(doc.metadata)
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


class KnowledgeBase:
    """Documents, chunks, a BM25 index and (optionally) a dense index in one directory.

    Settings (chunking, analyzer, BM25 parameters, vector index, embedding model) are fixed
    when the directory is created and read back on every later ``open``.

    >>> import tempfile
    >>> kb = KnowledgeBase.open(tempfile.mkdtemp())          # BM25 only; pass embedder= for dense
    >>> kb.upsert([Document("a", "Cats purr."), Document("b", "Dogs bark.")]).added
    ['a', 'b']
    >>> kb.commit().generation
    1
    >>> [h.chunk.document_id for h in kb.bm25_retriever().retrieve("barking dog", k=1)]
    ['b']
    """

    def __init__(self, path: Path, store: DocumentStore, settings: dict[str, Any],
                 embedder: Embedder | None, chunker: StructureAwareChunker,
                 show_progress: bool | None, use_gpu: bool | None, extractor: Extractor | None = None,
                 writer_lock: WriterLock | None = None, auto_refresh: bool = True,
                 bm25_statistics: str = "collection"):
        self.path = path
        self.store = store
        self.settings = settings
        self.embedder = embedder
        self.chunker = chunker
        self.show_progress = show_progress
        self.use_gpu = use_gpu
        self.extractor = extractor
        self.read_only = writer_lock is None
        self.auto_refresh = auto_refresh
        self.bm25_statistics = bm25_statistics
        self._writer_lock = writer_lock
        self._pending_upserts: dict[str, tuple[Document, str, int]] = {}
        self._pending_deletes: set[str] = set()
        self._commit_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._embedder_checked = False
        # query vectors, so a query routed or fused across memories is embedded once
        self._query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_vectors_lock = threading.Lock()
        self._data_version = store.data_version()
        self._snapshot = self._load_snapshot()

    # opening ----------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        *,
        embedder: Embedder | str | None = None,
        chunk_size: int | None = None,
        chunk_overlap: int | None = None,
        analyzer: Analyzer | None = None,
        bm25: BM25Params | None = None,
        vector_index: VectorIndexConfig | None = None,
        index_context: bool | None = None,
        graph: bool | Extractor | None = None,
        show_progress: bool | None = None,
        use_gpu: bool | None = None,
        read_only: bool = False,
        lock_timeout: float = 0.0,
        auto_refresh: bool = True,
        bm25_statistics: str = "collection",
        verify: bool = True,
    ) -> "KnowledgeBase":
        """Open the knowledge base at ``path``, creating it if it does not exist.

        ``embedder`` is an :class:`~rag_plugins.protocols.Embedder` or a sentence-transformers
        model id/path. A new base without one is BM25-only. An existing base reloads its
        recorded model when ``embedder`` is omitted, and refuses a different one.
        ``index_context`` (default True) puts each chunk's document title (metadata
        ``title``) and heading path above its text in what BM25 and the embedder see.
        ``graph`` builds a knowledge graph as well: ``True`` for the default
        :class:`~rag_plugins.graph.heuristic.HeuristicExtractor` (no LLM, no download), or
        any :class:`~rag_plugins.graph.extraction.Extractor`. A base with a graph reopens
        with its recorded default extractor; other extractors must be passed again.

        One process at a time opens a base for writing: a second writer gets
        :class:`~rag_plugins.errors.KnowledgeBaseLockedError` naming the holder, at once or
        after ``lock_timeout`` seconds. ``read_only=True`` opens an existing base for
        searching only, alongside a writer; it follows the writer's commits by itself
        unless ``auto_refresh=False`` (then call :meth:`refresh`).

        ``bm25_statistics="filtered"`` makes filtered BM25 searches compute IDF and average
        length over the chunks the filter admits, so tenants sharing a base cannot read
        each other's term statistics through scores (see the README's security section).

        ``verify`` (default True) runs SQLite's integrity check on ``kb.sqlite`` when opening
        (about 5 ms per 1,000 chunks); every chunk, document and generation file is also
        checked against its checksum whenever it is read, whatever ``verify`` says.
        """
        if bm25_statistics not in BM25_STATISTICS:
            raise InvalidInputError(f"bm25_statistics must be one of {BM25_STATISTICS}, got {bm25_statistics!r}")
        path = Path(path)
        if read_only:
            if not (path / "kb.sqlite").is_file():
                raise InvalidInputError(
                    f"there is no knowledge base at {path}; create one first (KnowledgeBase.open "
                    "without read_only, or rag-plugins index), or check the path"
                )
            writer = None
        else:
            existed = path.exists()
            path.mkdir(parents=True, exist_ok=True)
            writer = WriterLock.acquire(path, lock_timeout)
        fresh = not read_only and not (path / "kb.sqlite").exists()
        store = None
        try:
            store = DocumentStore(path / "kb.sqlite", read_only=read_only)
            if isinstance(embedder, str):
                from rag_plugins.embeddings.sentence_transformer import SentenceTransformerEmbedder

                embedder = SentenceTransformerEmbedder(embedder)
            given_embedder = embedder
            version = store.get_meta("format_version") if store.has_schema() else None
            requested = {
                "chunk_size": chunk_size, "chunk_overlap": chunk_overlap,
                "analyzer": analyzer.config() if analyzer else None,
                "bm25": {"k1": bm25.k1, "b": bm25.b} if bm25 else None,
                "vector_index": vector_index.to_dict() if vector_index else None,
                "index_context": index_context,
            }
            extractor = _as_extractor(graph)
            if version is None:
                if read_only:
                    raise IndexCorruptedError(f"{path / 'kb.sqlite'} holds no knowledge base; check the path")
                settings = cls._new_settings(embedder, requested)
                settings["graph"] = extractor.config() if extractor is not None else None
                store.create_schema()
                store.set_meta("settings", settings)
                store.set_meta("settings_sha256", settings_digest(settings))
                store.set_meta("generation", 0)
                store.set_meta("next_row", 0)
                store.set_meta("format_version", FORMAT_VERSION)
            else:
                if verify:
                    store.integrity_check()
                check_format_version(version, path)
                if writer is not None:
                    # A writer killed inside COMMIT can leave its transaction in the WAL file
                    # but not yet in SQLite's shared index: readers do not see it, yet a later
                    # recovery would, after this writer removed that generation's folder as
                    # an unpublished leftover. Writing now settles it: our frames overwrite
                    # the orphan's, or follow it if it was already recovered.
                    store.set_meta("writer", {"pid": os.getpid(), "opened_at": time.time()})
                if version < FORMAT_VERSION:
                    _upgrade(store, path, read_only)
                settings = _checked_settings(store, path)
                cls._check_requested(settings, requested, path)
                embedder = cls._resolve_embedder(settings, embedder, path, show_progress)
                extractor = _resolve_extractor(settings.get("graph"), extractor, graph, path)
            counter = embedder.count_tokens if embedder is not None and hasattr(embedder, "count_tokens") else None
            chunker = StructureAwareChunker(settings["chunk_size"], settings["chunk_overlap"], counter)
            kb = cls(path, store, settings, embedder, chunker, show_progress, use_gpu, extractor,
                     writer, auto_refresh, bm25_statistics)
            if version is not None and given_embedder is not None:
                kb._check_embedder()
            if writer is not None:
                kb.collect_garbage()
            return kb
        except BaseException:
            if store is not None:
                store.close()
            if fresh:  # a failed first open (say, a model that cannot load) leaves nothing behind
                _remove_new_base(path, existed)
            if writer is not None:
                writer.release()
            raise

    @staticmethod
    def _new_settings(embedder: Embedder | None, requested: dict[str, Any]) -> dict[str, Any]:
        embedding = None
        chunk_size = requested["chunk_size"]
        if embedder is not None:
            embedding = {"model_id": embedder.model_id, "revision": getattr(embedder, "revision", None),
                         "fingerprint": embedder.fingerprint, "dimension": int(embedder.dimension),
                         "normalize": bool(embedder.normalize)}
            if chunk_size is None:
                max_len = getattr(embedder, "max_seq_length", None) or 512
                chunk_size = max(16, min(max_len, 512) - 32)  # room for special tokens + headings
        return {
            "chunk_size": chunk_size or 200,
            "chunk_overlap": requested["chunk_overlap"] or 0,
            "analyzer": requested["analyzer"] or Analyzer().config(),
            "bm25": requested["bm25"] or {"k1": BM25Params().k1, "b": BM25Params().b},
            "vector_index": requested["vector_index"] or VectorIndexConfig().to_dict(),
            "index_context": True if requested["index_context"] is None else requested["index_context"],
            "embedding": embedding,
        }

    @staticmethod
    def _check_requested(settings: dict[str, Any], requested: dict[str, Any], path: Path) -> None:
        for key, value in requested.items():
            if value is None:
                continue
            stored = settings.get(key)
            if key == "vector_index":
                stored = {**stored, "use_gpu": None}
                value = {**value, "use_gpu": None}
            if stored != value:
                raise InvalidInputError(
                    f"{path} was created with {key}={stored!r}, not {value!r}; settings are fixed "
                    "when a knowledge base is created. Omit the argument, or index into a new directory"
                )

    @staticmethod
    def _resolve_embedder(settings: dict[str, Any], embedder: Embedder | None, path: Path,
                          show_progress: bool | None) -> Embedder | None:
        recorded = settings.get("embedding")
        if recorded is None:
            if embedder is not None:
                raise EmbeddingModelMismatchError(
                    f"{path} was built without dense embeddings (BM25 only); it cannot be opened "
                    "with an embedder. Index into a new directory to add dense retrieval"
                )
            return None
        if embedder is None:  # the recorded model, or the one $RAG_PLUGINS_EMBEDDING_MODEL names
            from rag_plugins._model_files import configured_embedding_model
            from rag_plugins.embeddings.sentence_transformer import SentenceTransformerEmbedder

            return SentenceTransformerEmbedder(configured_embedding_model(recorded["model_id"]),
                                               revision=recorded.get("revision"), normalize=recorded["normalize"])
        return embedder  # checked once the base is open (see _check_embedder)

    def _load_snapshot(self) -> Snapshot:
        """The committed generation, leased so the writer keeps it while it is used."""
        root = self.path / "generations"
        for _ in range(200):
            generation = self.store.get_meta("generation", 0)
            if not isinstance(generation, int) or isinstance(generation, bool) or generation < 0:
                raise IndexCorruptedError(f"{self.path / 'kb.sqlite'} records no valid generation "
                                          f"({generation!r}); restore the base from a backup or rebuild it")
            if generation == 0:
                return self._empty_snapshot()
            lease = GenerationLease.acquire(root, generation)
            if lease is not None:
                return self._read_generation(generation, lease)
            if self.store.get_meta("generation", 0) == generation:
                raise IndexCorruptedError(
                    f"{root / generation_name(generation)}, the committed generation, is missing; "
                    "restore the knowledge base from a backup or rebuild it"
                )
        raise KnowledgeBaseLockedError(
            f"{self.path}: a new generation was committed on every one of 200 tries to open one; "
            "the writer commits faster than this reader can load. Retry, or commit less often"
        )

    def _empty_snapshot(self) -> Snapshot:
        embedding = self.settings["embedding"]
        bm25 = BM25Index.empty(BM25Params(**self.settings["bm25"]))
        vectors = VectorIndex.empty(embedding["dimension"], self._vector_config()) if embedding else None
        kg = None
        if self.settings.get("graph") is not None:  # networkx and scipy load only for bases with a graph
            from rag_plugins.graph.store import KnowledgeGraph

            kg = KnowledgeGraph()
        analyzer = Analyzer.from_config(self.settings["analyzer"])
        empty = np.zeros(0, np.int64)
        return self._snapshot_of(0, empty, [], bm25, analyzer, vectors, kg, checksum_array([]), None)

    def _vector_config(self) -> VectorIndexConfig:
        return VectorIndexConfig(**{**self.settings["vector_index"], "use_gpu": self.use_gpu})

    def _read_generation(self, generation: int, lease: GenerationLease) -> Snapshot:
        directory = self.path / "generations" / generation_name(generation)
        manifest = read_manifest(directory)
        embedding = self.settings["embedding"]
        if embedding and (manifest.get("embedding") or {}).get("fingerprint") != embedding["fingerprint"]:
            raise IndexCorruptedError(f"{directory} disagrees with kb.sqlite on the embedding model")
        if manifest.get("generation") != generation or manifest.get("settings_sha256", None) not in (
                None, settings_digest(self.settings)):
            raise IndexCorruptedError(
                f"{directory} does not belong to the settings and generation recorded in kb.sqlite; "
                "restore the knowledge base from a backup or rebuild it"
            )
        try:
            bm25, analyzer = BM25Index.load(directory)
            vectors = VectorIndex.load(directory, self.use_gpu) if embedding else None
            kg = None
            if self.settings.get("graph") is not None:
                from rag_plugins.graph.store import KnowledgeGraph

                kg = KnowledgeGraph.load(directory)
        except (OSError, ValueError, RuntimeError, KeyError, TypeError) as exc:
            raise IndexCorruptedError(f"cannot load the indexes in {directory}: {exc}") from exc
        rows, info, checksums = self.store.chunk_metadata(generation)
        checks = checksum_array(checksums)
        recorded = manifest.get("chunks", {}).get("digest") if isinstance(manifest.get("chunks"), dict) else None
        if not np.array_equal(rows, bm25.rows) or (
                manifest["format_version"] >= 2 and recorded != chunks_digest(checks)):
            raise IndexCorruptedError(
                f"{self.path}: the chunks in kb.sqlite are not the ones generation {generation} "
                "indexed; restore the knowledge base from a backup or rebuild it"
            )
        return self._snapshot_of(generation, rows, info, bm25, analyzer, vectors, kg, checks, lease)

    def _snapshot_of(self, generation: int, rows: np.ndarray, info: list, bm25: BM25Index, analyzer: Analyzer,
                     vectors: VectorIndex | None, kg: "KnowledgeGraph | None", checksums: np.ndarray,
                     lease: GenerationLease | None) -> Snapshot:
        metadata = MetadataIndex([builtin_metadata(cid, did, meta) for cid, did, meta in info])
        graph = nodes = positions = None
        if kg is not None:
            from rag_plugins.graph.index import GraphIndex

            graph = GraphIndex(kg)
            if self.embedder is not None:
                keys = kg.synonym_keys()
                graph.attach_entity_vectors(keys, self.entity_vectors(keys))
            nodes = np.array([graph.position.get("c:" + cid, -1) for cid, _, _ in info], dtype=np.int64)
            positions = np.full(len(graph), -1, dtype=np.int64)
            positions[nodes[nodes >= 0]] = np.flatnonzero(nodes >= 0)
        return Snapshot(generation, rows, bm25, analyzer, vectors, metadata, graph, nodes, positions,
                        checksums, lease)

    def refresh(self) -> bool:
        """Move to the newest committed generation; True when it moved. Readers opened
        with ``auto_refresh`` (the default) do this by themselves before each search."""
        with self._refresh_lock:
            return self._refresh()

    def _refresh(self) -> bool:
        self._data_version = self.store.data_version()
        if self.store.get_meta("generation", 0) == self._snapshot.generation:
            return False
        self._snapshot = self._load_snapshot()
        return True

    def _current(self) -> Snapshot:
        if self.read_only and self.auto_refresh and self.store.data_version() != self._data_version:
            if self._refresh_lock.acquire(blocking=False):  # others search the old one meanwhile
                try:
                    self._refresh()
                finally:
                    self._refresh_lock.release()
        return self._snapshot

    def collect_garbage(self) -> list[int]:
        """Writer only: remove superseded generations no reader holds, leftovers of
        crashed commits, and the chunk rows no remaining generation shows. Runs after every
        commit and on open; returns the generations removed."""
        self._require_writer("collect garbage")
        root = self.path / "generations"
        if not root.is_dir():
            return []
        newest = self.store.get_meta("generation", 0)
        removed = []
        for child in sorted(root.iterdir()):
            name = child.name
            if child.is_dir() and name.endswith(".tmp"):
                shutil.rmtree(child, ignore_errors=True)
            elif name.isdigit() or (name.endswith(".lock") and name[:-5].isdigit()):
                generation = int(name[:-5] if name.endswith(".lock") else name)
                if generation != newest and child.exists():  # not already gone with its folder
                    try:
                        if try_remove_generation(root, generation):
                            removed.append(generation)
                    except OSError:
                        continue  # tried again after the next commit
        kept = [int(c.name) for c in root.iterdir() if c.is_dir() and c.name.isdigit()]
        self.store.purge_retired(min(kept + [newest]))
        return sorted(set(removed))

    # inspection -------------------------------------------------------------------------
    @property
    def generation(self) -> int:
        return self._snapshot.generation

    def __len__(self) -> int:
        return self.store.count_documents()

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and self.store.get_document(_checked_id(doc_id)) is not None

    def get(self, doc_id: str) -> Document:
        doc = self.store.get_document(_checked_id(doc_id))
        if doc is None:
            raise DocumentNotFoundError(f"no committed document with id {doc_id!r}")
        return doc

    def document_ids(self) -> list[str]:
        return self.store.document_ids()

    def chunks(self, doc_id: str) -> list[Chunk]:
        """The committed chunks of one document, in order."""
        if doc_id not in self:
            raise DocumentNotFoundError(f"no document with id {doc_id!r} in {self.path}")
        by_row = self.store.chunks_by_row(self.store.rows_of_documents([doc_id]).tolist())
        return sorted(by_row.values(), key=lambda c: c.position)

    def document_version(self, doc_id: str) -> int:
        info = self.store.document_info(_checked_id(doc_id))
        if info is None:
            raise DocumentNotFoundError(f"no committed document with id {doc_id!r}")
        return info["version"]

    @property
    def has_pending_changes(self) -> bool:
        return bool(self._pending_upserts or self._pending_deletes)

    @property
    def chunk_count(self) -> int:
        return len(self._snapshot.rows)

    def manifest(self) -> dict[str, Any] | None:
        """The manifest of the generation this object reads (None before the first commit)."""
        if self.generation == 0:
            return None
        return read_manifest(self.path / "generations" / generation_name(self.generation))

    # staging ----------------------------------------------------------------------------
    def upsert(self, documents: Iterable[Document | Mapping[str, Any]]) -> UpsertResult:
        """Stage documents by id. Unchanged content (text and metadata) is skipped entirely.

        The whole batch is validated first; a rejected batch stages nothing.
        """
        self._require_writer("upsert")
        if isinstance(documents, (Document, str, bytes)) or isinstance(documents, Mapping):
            raise InvalidInputError("upsert takes an iterable of documents; wrap one document in a list")
        docs = [_as_document(d) for d in documents]
        seen: set[str] = set()
        dupes = sorted({d.id for d in docs if d.id in seen or seen.add(d.id)})
        if dupes:
            raise DuplicateIdError(
                f"document ids repeated in one batch: {dupes[:10]}; keep one document per id"
            )
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
            self._pending_deletes.discard(doc_id)
            if entry is None:
                self._pending_upserts.pop(doc_id, None)
            else:
                self._pending_upserts[doc_id] = entry
        return UpsertResult(added, updated, unchanged)

    def delete(self, ids: Iterable[str], *, missing_ok: bool = False) -> list[str]:
        """Stage deletion of documents by id; unknown ids raise unless ``missing_ok``."""
        self._require_writer("delete")
        if isinstance(ids, str):
            raise InvalidInputError("delete takes an iterable of ids; wrap one id in a list")
        ids = [_checked_id(doc_id) for doc_id in ids]
        committed = set(self.store.hashes(ids))
        unknown = [i for i in ids if i not in committed and i not in self._pending_upserts]
        if unknown and not missing_ok:
            raise DocumentNotFoundError(
                f"no documents with ids {unknown[:10]}; pass missing_ok=True to ignore unknown ids"
            )
        deleted = []
        for doc_id in ids:
            self._pending_upserts.pop(doc_id, None)
            if doc_id in committed:
                self._pending_deletes.add(doc_id)
                deleted.append(doc_id)
        return deleted

    def _require_writer(self, action: str) -> None:
        if self.read_only:
            raise ReadOnlyKnowledgeBaseError(
                f"cannot {action}: {self.path} was opened with read_only=True. Open it without "
                "read_only in the one process that writes it (a second writer is refused)"
            )
        if not self._writer_lock.held:
            raise ReadOnlyKnowledgeBaseError(f"cannot {action}: {self.path} has been closed; open it again")

    def rollback(self) -> None:
        """Discard every staged change."""
        self._pending_upserts.clear()
        self._pending_deletes.clear()

    # committing -------------------------------------------------------------------------
    def commit(self) -> CommitResult:
        """Make staged changes visible atomically, or raise and leave the base as it was."""
        self._require_writer("commit")
        with self._commit_lock:
            started = time.perf_counter()
            snap = self._snapshot
            upserts = sorted(self._pending_upserts.values(), key=lambda e: e[0].id)
            deletes = sorted(self._pending_deletes)
            if not upserts and not deletes:
                return CommitResult(snap.generation, 0, 0, 0, 0, 0, 0.0)
            touched = deletes + [d.id for d, _, _ in upserts]
            old_rows = self.store.rows_of_documents(touched)
            next_row = max(self.store.get_meta("next_row", 0), self.store.max_row() + 1)

            chunk_rows: list[tuple[int, Chunk]] = []
            with progress_bar(len(upserts), "Chunking", show=self._show(len(upserts)), unit="doc") as bar:
                for doc, _, _ in upserts:
                    for chunk in self.chunker.split(doc):
                        chunk_rows.append((next_row, chunk))
                        next_row += 1
                    bar.update(1)
            heading = self.settings["index_context"]
            texts = [index_text(c, heading) for _, c in chunk_rows]
            add_rows = np.asarray([r for r, _ in chunk_rows], dtype=np.int64)

            tokens = analyze_many(snap.analyzer, texts, self._show(len(texts)))
            bm25 = snap.bm25.apply(old_rows, add_rows, tokens)
            vectors, embedded = snap.vectors, 0
            if self.embedder is not None:
                self._check_embedder()
                vecs, embedded = self._embed(texts)
                vectors = snap.vectors.apply(old_rows, add_rows, vecs)
            kg = self._updated_graph(snap, old_rows, [c for _, c in chunk_rows])
            records = [ChunkRecord.of(row, chunk) for row, chunk in chunk_rows]
            keep = ~np.isin(snap.rows, old_rows)
            checksums = np.concatenate([snap.checksums[keep], checksum_array(r.checksum for r in records)])
            if not np.array_equal(bm25.rows, np.concatenate([snap.rows[keep], add_rows])):
                raise IndexCorruptedError(f"{self.path}: the new BM25 index lost track of chunk rows")

            generation = snap.generation + 1
            self._check_store_matches(snap)
            self._write_generation(generation, bm25, snap.analyzer, vectors, kg, checksums)
            lease = GenerationLease.acquire(self.path / "generations", generation)
            self.store.apply_commit(generation, deletes, upserts, records,
                                    {"generation": generation, "next_row": next_row})
            rows, info, _ = self.store.chunk_metadata(generation)
            self._snapshot = self._snapshot_of(generation, rows, info, bm25, snap.analyzer, vectors, kg,
                                               checksums, lease)
            self._data_version = self.store.data_version()
            self.rollback()
            del snap  # drop this commit's hold on the old generation before collecting it
            self.collect_garbage()
            return CommitResult(generation, len(upserts), len(deletes), len(chunk_rows),
                                len(old_rows), embedded, time.perf_counter() - started,
                                len(chunk_rows) if kg is not None else 0)

    def _check_store_matches(self, snap: Snapshot) -> None:
        """Before publishing: the store must still be what this writer's indexes describe
        (the writer lock makes anything else a bug or a tampered base)."""
        committed = self.store.get_meta("generation", 0)
        live = self.store.live_chunk_count()
        if committed != snap.generation or live != len(snap.rows):
            raise IndexCorruptedError(
                f"{self.path} changed underneath this writer: kb.sqlite is at generation {committed} "
                f"with {live} chunks, this writer's indexes at {snap.generation} with {len(snap.rows)}. "
                "Nothing was committed; close and reopen the knowledge base"
            )

    def _updated_graph(self, snap: Snapshot, old_rows: np.ndarray, chunks: list[Chunk]) -> "KnowledgeGraph | None":
        """A copy of the committed graph without the replaced chunks' contributions and
        with the new chunks' (the committed one stays untouched until the switch)."""
        if snap.graph is None:
            return None
        if self.extractor is None:
            raise InvalidInputError(
                f"the knowledge base at {self.path} has a graph built by {self.settings['graph']!r}; "
                "pass that extractor to KnowledgeBase.open(..., graph=extractor) to change its documents"
            )
        removed = [c.id for c in self.store.chunks_by_row(old_rows.tolist()).values()]
        extractions = self._extract(chunks)
        kg = snap.graph.kg.copy()
        touched = kg.apply(removed, extractions, {c.id: c.document_id for c in chunks})
        if self.embedder is not None:
            kg.update_synonyms(touched, self.entity_vectors)
        return kg

    def _extract(self, chunks: list[Chunk]) -> list[Extraction]:
        """The extractor's output for ``chunks``; an extractor with ``cache = True`` (the LLM
        ones) is asked only about text it has not seen, keyed by config and content hash."""
        cached: dict[str, dict] = {}
        keys: list[str] = []
        if getattr(self.extractor, "cache", False):
            prefix = json.dumps(self.settings["graph"], sort_keys=True) + "\x00"
            keys = [hashlib.sha256((prefix + c.contextual_text).encode()).hexdigest() for c in chunks]
            cached = self.store.cached_extractions(sorted(set(keys)))
        todo = [c for i, c in enumerate(chunks) if not keys or keys[i] not in cached]
        found: dict[str, Extraction] = {}
        with progress_bar(len(todo), "Extracting entities", show=self._show(len(todo)), unit="chunk") as bar:
            for i in range(0, len(todo), _EMBED_SLICE):
                part = todo[i : i + _EMBED_SLICE]
                out = self.extractor.extract(part)
                if len(out) != len(part) or any(e.chunk_id != c.id for e, c in zip(out, part)):
                    raise InvalidInputError(
                        f"extractor {self.settings['graph']!r} must return one Extraction per chunk, in order"
                    )
                found.update((e.chunk_id, e) for e in out)
                bar.update(len(part))
        if keys:
            position = {c.id: i for i, c in enumerate(chunks)}
            self.store.cache_extractions({keys[position[cid]]: e.to_dict() for cid, e in found.items()})
            return [found[c.id] if c.id in found else Extraction.from_dict(c.id, cached[keys[i]])
                    for i, c in enumerate(chunks)]
        return [found[c.id] for c in chunks]

    def entity_vectors(self, keys: list[str]) -> np.ndarray:
        """Unit vectors of entity keys (embedded once, then read from the content-hash cache)."""
        if not keys:
            return np.zeros((0, self.settings["embedding"]["dimension"]), dtype=np.float32)
        self._check_embedder()
        vectors, _ = self._embed(list(keys), "Embedding entity names", "name")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)

    def _write_generation(self, generation: int, bm25: BM25Index, analyzer: Analyzer,
                          vectors: VectorIndex | None, kg: "KnowledgeGraph | None", checksums: np.ndarray) -> Path:
        root = self.path / "generations"
        root.mkdir(exist_ok=True)
        final = root / generation_name(generation)
        tmp = root / f"{generation_name(generation)}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)
        tmp.mkdir()
        files = bm25.save(tmp, analyzer)
        if vectors is not None:
            files += vectors.save(tmp)
        if kg is not None:
            files += kg.save(tmp)
        write_manifest(tmp, files, {
            "generation": generation,
            "created_at": time.time(),
            "embedding": self.settings["embedding"],
            "bm25": self.settings["bm25"],
            "vector_index": self.settings["vector_index"],
            "graph": self.settings.get("graph"),
            "counts": {"chunks": len(bm25), **({"entities": kg.entity_count()} if kg is not None else {})},
            "chunks": {"count": len(checksums), "digest": chunks_digest(checksums)},
            "settings_sha256": settings_digest(self.settings),
        })
        os.replace(tmp, final)
        fd = os.open(root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return final

    def _show(self, n: int) -> bool | None:
        return self.show_progress if n >= 200 else False

    def _check_embedder(self) -> None:
        """The embedder must be the model that built the index. A base recorded before
        fingerprints covered every weight is checked by the sampled fingerprint, and the
        full one is recorded by its first writer and checked from then on."""
        if self._embedder_checked or self.embedder is None:
            return
        recorded = self.settings["embedding"]
        full = self.embedder.fingerprint
        legacy = getattr(self.embedder, "legacy_fingerprint", None)
        if recorded["fingerprint"] == full or legacy is None or recorded["fingerprint"].startswith("sha256:"):
            _check_same_model(recorded, self.embedder, self.path, full)
        else:
            _check_same_model(recorded, self.embedder, self.path, legacy)
            content = self.store.get_meta("embedding_content_fingerprint")
            if content is None and not self.read_only:
                self.store.set_meta("embedding_content_fingerprint", full)
            elif content is not None and content != full:
                _check_same_model({**recorded, "fingerprint": content}, self.embedder, self.path, full)
        self._embedder_checked = True

    def _embed(self, texts: list[str], label: str = "Embedding", unit: str = "chunk") -> tuple[np.ndarray, int]:
        """Embed ``texts``, reusing the content-hash cache; returns (vectors, newly embedded)."""
        embedder = self.embedder
        dim = self.settings["embedding"]["dimension"]
        prefix = self.settings["embedding"]["fingerprint"] + "\x00"
        keys = [hashlib.sha256((prefix + t).encode()).hexdigest() for t in texts]
        found = self.store.cached_embeddings(sorted(set(keys)), dim)
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts):
            if key not in found:
                missing.setdefault(key, text)
        if missing:
            # longest first, like sentence-transformers, so batches pad little
            todo = sorted(missing.items(), key=lambda kv: -len(kv[1]))
            with progress_bar(len(todo), label, show=self._show(len(todo)), unit=unit) as bar:
                for i in range(0, len(todo), _EMBED_SLICE):
                    part = todo[i : i + _EMBED_SLICE]
                    vecs = check_embeddings(embedder.embed_documents([t for _, t in part]),
                                            len(part), dim, embedder.model_id, bool(embedder.normalize))
                    self.store.cache_embeddings([k for k, _ in part], vecs)
                    found.update(zip((k for k, _ in part), vecs))
                    bar.update(len(part))
        out = np.zeros((len(texts), dim), dtype=np.float32)
        for i, key in enumerate(keys):
            out[i] = found[key]
        return out, len(missing)

    # searching ---------------------------------------------------------------------------
    def searchable_snapshot(self) -> Snapshot:
        """The generation a search reads: the one already pinned by the search in progress
        on this thread, else the newest this reader has (refreshed when needed)."""
        snap = pinned(self, self._current())
        if len(snap.rows) == 0:
            raise EmptyIndexError(
                f"the knowledge base at {self.path} has no committed chunks; "
                "call upsert(documents) and then commit() before retrieving"
            )
        return snap

    def embed_queries(self, queries: Sequence[str]) -> np.ndarray:
        """Query vectors; the last 1,024 distinct queries are kept, so the routes and
        fusions that read one query all reuse one embedding."""
        if self.embedder is None:
            raise InvalidInputError(
                f"the knowledge base at {self.path} has no dense index (it was built without an "
                "embedder); use BM25 retrieval, or index into a new directory with an embedder"
            )
        self._check_embedder()
        queries = list(queries)
        with self._query_vectors_lock:
            cached = {q: self._query_vectors[q] for q in queries if q in self._query_vectors}
        todo = list(dict.fromkeys(q for q in queries if q not in cached))
        if todo:
            fresh = check_embeddings(self.embedder.embed_queries(todo), len(todo),
                                     self.settings["embedding"]["dimension"], self.embedder.model_id,
                                     bool(self.embedder.normalize))
            cached.update(zip(todo, fresh))
        with self._query_vectors_lock:
            for q in queries:
                self._query_vectors[q] = cached[q]
                self._query_vectors.move_to_end(q)
            while len(self._query_vectors) > _QUERY_CACHE:
                self._query_vectors.popitem(last=False)
        return np.stack([cached[q] for q in queries]) if queries else np.zeros(
            (0, self.settings["embedding"]["dimension"]), np.float32)

    def clear_query_cache(self) -> None:
        """Forget the cached query vectors (so a benchmark times every query's embedding)."""
        with self._query_vectors_lock:
            self._query_vectors.clear()

    def chunk_embeddings(self, chunks: Sequence[Chunk]) -> np.ndarray:
        """The stored vectors of ``chunks`` (from the content-hash cache; a chunk whose
        vector is missing is embedded now). Used by MMR and anything comparing chunks."""
        if self.embedder is None:
            raise InvalidInputError(
                f"the knowledge base at {self.path} has no embeddings (it was built without an "
                "embedder); open one built with an embedder"
            )
        self._check_embedder()
        vectors, _ = self._embed([index_text(c, self.settings["index_context"]) for c in chunks])
        return vectors

    def hits(self, rows: np.ndarray, scores: np.ndarray, source: str) -> list[Hit]:
        chunks = self.store.chunks_by_row(rows.tolist())
        missing = [r for r in rows.tolist() if r not in chunks]
        if missing:  # rows a leased generation shows are kept, so this is damage
            raise IndexCorruptedError(
                f"{self.path / 'kb.sqlite'} lacks chunk rows {missing[:5]} that the index holds; "
                "restore the knowledge base from a backup or rebuild it"
            )
        return [Hit(chunks[row], float(score), {source: float(score)}, {source: rank}, (source,))
                for rank, (row, score) in enumerate(zip(rows.tolist(), scores.tolist()), start=1)]

    def bm25_retriever(self, name: str = "bm25", statistics: str | None = None) -> "BM25Retriever":
        from rag_plugins.retrievers.bm25 import BM25Retriever

        return BM25Retriever(self, name=name, statistics=statistics)

    def dense_retriever(self, name: str = "dense") -> "DenseRetriever":
        from rag_plugins.retrievers.dense import DenseRetriever

        return DenseRetriever(self, name=name)

    def hybrid_retriever(self, method: str | None = None, weights: Mapping[str, float] | None = None,
                         **options: Any) -> "HybridRetriever":
        """BM25 and dense fused; ``method`` defaults to relative-score fusion with equal
        weights (:data:`~rag_plugins.retrievers.fusion.HYBRID_FUSION`, chosen on SciFact train)."""
        from rag_plugins.retrievers.fusion import HYBRID_FUSION
        from rag_plugins.retrievers.hybrid import HybridRetriever

        method = HYBRID_FUSION if method is None else method
        return HybridRetriever([self.bm25_retriever(), self.dense_retriever()], method=method,
                               weights=weights, **options)

    def graph_retriever(self, mode: str = "ppr", **options: Any) -> "GraphRetriever":
        from rag_plugins.graph.retriever import GraphRetriever

        return GraphRetriever(self, mode, **options)

    def retriever(self, kind: str, **options: Any) -> Any:
        """``bm25``, ``dense``, ``hybrid``, ``graph`` or ``graph+hybrid``, by name (what the
        CLI uses)."""
        if kind == "bm25":
            return self.bm25_retriever(**options)
        if kind == "dense":
            return self.dense_retriever(**options)
        if kind == "hybrid":
            return self.hybrid_retriever(**options)
        if kind == "graph":
            return self.graph_retriever(**options)
        if kind == "graph+hybrid":
            from rag_plugins.graph.combined import GraphExpandedRetriever

            return GraphExpandedRetriever(self.hybrid_retriever(), self.graph_retriever(), **options)
        raise InvalidInputError(f"unknown retriever {kind!r}; use bm25, dense, hybrid, graph or graph+hybrid")

    @property
    def knowledge_graph(self) -> "KnowledgeGraph | None":
        """The committed knowledge graph (networkx inside: ``kb.knowledge_graph.graph``), or
        None for a base built without one. Treat it as read-only."""
        graph = self._snapshot.graph
        return graph.kg if graph is not None else None

    # lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Release the writer lock (if this is the writer) and this object's lease."""
        self.store.close()
        if self._snapshot.lease is not None:
            self._snapshot.lease.release()
        if self._writer_lock is not None:
            self._writer_lock.release()

    def __enter__(self) -> "KnowledgeBase":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _as_extractor(graph: bool | Extractor | None) -> Extractor | None:
    if graph is None or graph is False:
        return None
    if graph is True:
        from rag_plugins.graph.heuristic import HeuristicExtractor

        return HeuristicExtractor()
    if not isinstance(graph, Extractor):
        raise InvalidInputError(
            f"graph must be True, False or an Extractor (with name, config() and extract(chunks)); "
            f"got {type(graph).__name__}"
        )
    return graph


def _resolve_extractor(recorded: dict[str, Any] | None, given: Extractor | None, requested: Any,
                       path: Path) -> Extractor | None:
    if recorded is None:
        if given is not None:
            raise InvalidInputError(
                f"{path} was created without a knowledge graph; index into a new directory with graph=..."
            )
        return None
    if requested is False:
        raise InvalidInputError(f"{path} has a knowledge graph; omit graph= or pass its extractor")
    if given is None or requested is True:
        if recorded.get("name") == "heuristic":
            from rag_plugins.graph.heuristic import HeuristicExtractor

            return HeuristicExtractor(**{k: v for k, v in recorded.items() if k != "name"})
        return None  # searchable; changing documents needs the extractor (see _updated_graph)
    if given.config() != recorded:
        raise InvalidInputError(
            f"{path} built its graph with extractor {recorded!r}, not {given.config()!r}; a graph "
            "mixing extractors is inconsistent. Pass the same extractor, or index into a new directory"
        )
    return given


def _check_same_model(recorded: dict[str, Any], embedder: Embedder, path: Path, fingerprint: str) -> None:
    if recorded["fingerprint"] != fingerprint or recorded["dimension"] != embedder.dimension:
        raise EmbeddingModelMismatchError(
            f"{path} was embedded with {recorded['model_id']!r} (fingerprint "
            f"{recorded['fingerprint'][:19]}, dimension {recorded['dimension']}), but the embedder "
            f"given is {embedder.model_id!r} (fingerprint {fingerprint[:19]}, dimension "
            f"{embedder.dimension}). Mixing models gives meaningless scores: reuse the base's own model "
            "(command line: leave out --embedding-model; Python: KnowledgeBase.open without an embedder), "
            "or index into a new directory"
        )


def _checked_id(doc_id: Any) -> str:
    if not isinstance(doc_id, str):
        raise InvalidInputError(f"a document id is a str, got {type(doc_id).__name__} {doc_id!r}")
    return check_text(doc_id, "document id")


def _remove_new_base(path: Path, existed: bool) -> None:
    for name in ("kb.sqlite", "kb.sqlite-wal", "kb.sqlite-shm", "kb.sqlite-journal", "writer.lock"):
        (path / name).unlink(missing_ok=True)
    shutil.rmtree(path / "generations", ignore_errors=True)
    if not existed:
        try:
            path.rmdir()
        except OSError:  # something else was put there meanwhile: leave it
            pass


def _upgrade(store: DocumentStore, path: Path, read_only: bool) -> None:
    if read_only:
        raise UnsupportedFormatVersionError(
            f"{path} was written by an older rag-plugins (format {store.get_meta('format_version')}); "
            "open it once for writing (KnowledgeBase.open(path), or any rag-plugins index run) to "
            "upgrade it in place, then open it read-only"
        )
    settings = store.get_meta("settings")
    upgrade_1_to_2(store, store.get_meta("generation", 0))
    store.set_meta("settings_sha256", settings_digest(settings))


def _checked_settings(store: DocumentStore, path: Path) -> dict[str, Any]:
    settings = store.get_meta("settings")
    if not isinstance(settings, dict) or store.get_meta("settings_sha256") != settings_digest(settings):
        raise IndexCorruptedError(
            f"the settings in {path / 'kb.sqlite'} do not match their checksum; the file is damaged. "
            "Restore the knowledge base from a backup or rebuild it"
        )
    return settings
