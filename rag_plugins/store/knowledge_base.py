"""The knowledge base: one directory holding documents, chunks and every index.

Layout::

    kb/
      kb.sqlite                  documents, chunks, settings, embedding cache (SQLite)
      generations/000007/        the committed generation's index files + manifest.json

``upsert`` and ``delete`` stage changes; ``commit`` makes them visible atomically. It
writes the next generation's files, fsyncs them and their manifest, then switches the
generation number in the same SQLite transaction that replaces the rows. A crash at any
point leaves the previous generation loadable; stray directories are removed on open.
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
)
from rag_plugins.filters import MetadataIndex, builtin_metadata
from rag_plugins.graph.extraction import Extraction, Extractor
from rag_plugins.protocols import Embedder
from rag_plugins.retrievers.bm25_index import BM25Index, BM25Params, analyze_many
from rag_plugins.retrievers.vector_index import VectorIndex, VectorIndexConfig
from rag_plugins.store.docstore import DocumentStore
from rag_plugins.store.manifest import FORMAT_VERSION, check_format_version, read_manifest, write_manifest
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
    body = json.dumps({"text": document.text, "metadata": dict(document.metadata)},
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


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
                 show_progress: bool | None, use_gpu: bool | None, extractor: Extractor | None = None):
        self.path = path
        self.store = store
        self.settings = settings
        self.embedder = embedder
        self.chunker = chunker
        self.show_progress = show_progress
        self.use_gpu = use_gpu
        self.extractor = extractor
        self._pending_upserts: dict[str, tuple[Document, str, int]] = {}
        self._pending_deletes: set[str] = set()
        self._commit_lock = threading.Lock()
        self._embedder_checked = False
        # query vectors, so a query routed or fused across memories is embedded once
        self._query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_vectors_lock = threading.Lock()
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
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        store = DocumentStore(path / "kb.sqlite")
        if isinstance(embedder, str):
            from rag_plugins.embeddings.sentence_transformer import SentenceTransformerEmbedder

            embedder = SentenceTransformerEmbedder(embedder)
        version = store.get_meta("format_version")
        requested = {
            "chunk_size": chunk_size, "chunk_overlap": chunk_overlap,
            "analyzer": analyzer.config() if analyzer else None,
            "bm25": {"k1": bm25.k1, "b": bm25.b} if bm25 else None,
            "vector_index": vector_index.to_dict() if vector_index else None,
            "index_context": index_context,
        }
        extractor = _as_extractor(graph)
        try:
            if version is None:
                settings = cls._new_settings(embedder, requested)
                settings["graph"] = extractor.config() if extractor is not None else None
                store.set_meta("settings", settings)
                store.set_meta("generation", 0)
                store.set_meta("next_row", 0)
                store.set_meta("format_version", FORMAT_VERSION)
            else:
                check_format_version(version, path)
                settings = store.get_meta("settings")
                cls._check_requested(settings, requested, path)
                embedder = cls._resolve_embedder(settings, embedder, path, show_progress)
                extractor = _resolve_extractor(settings.get("graph"), extractor, graph, path)
            counter = embedder.count_tokens if embedder is not None and hasattr(embedder, "count_tokens") else None
            chunker = StructureAwareChunker(settings["chunk_size"], settings["chunk_overlap"], counter)
            return cls(path, store, settings, embedder, chunker, show_progress, use_gpu, extractor)
        except BaseException:
            store.close()
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
        if embedder is None:
            from rag_plugins.embeddings.sentence_transformer import SentenceTransformerEmbedder

            return SentenceTransformerEmbedder(recorded["model_id"], revision=recorded.get("revision"),
                                               normalize=recorded["normalize"])
        _check_same_model(recorded, embedder, path)
        return embedder

    def _load_snapshot(self) -> Snapshot:
        generation = self.store.get_meta("generation", 0)
        generations = self.path / "generations"
        if generations.exists():  # leftovers of crashed or superseded commits
            for child in generations.iterdir():
                if child.name != f"{generation:06d}":
                    shutil.rmtree(child, ignore_errors=True)
        analyzer = Analyzer.from_config(self.settings["analyzer"])
        embedding = self.settings["embedding"]
        vector_cfg = VectorIndexConfig(**{**self.settings["vector_index"], "use_gpu": self.use_gpu})
        with_graph = self.settings.get("graph") is not None
        kg = None
        if with_graph:  # networkx and scipy load only for bases with a graph
            from rag_plugins.graph.store import KnowledgeGraph
        if generation == 0:
            bm25 = BM25Index.empty(BM25Params(**self.settings["bm25"]))
            vectors = VectorIndex.empty(embedding["dimension"], vector_cfg) if embedding else None
            kg = KnowledgeGraph() if with_graph else None
        else:
            directory = generations / f"{generation:06d}"
            manifest = read_manifest(directory)
            if embedding and manifest.get("embedding", {}).get("fingerprint") != embedding["fingerprint"]:
                raise IndexCorruptedError(f"{directory} disagrees with kb.sqlite on the embedding model")
            try:
                bm25, analyzer = BM25Index.load(directory)
                vectors = VectorIndex.load(directory, self.use_gpu) if embedding else None
            except (OSError, ValueError, RuntimeError) as exc:
                raise IndexCorruptedError(f"cannot load the indexes in {directory}: {exc}") from exc
            kg = KnowledgeGraph.load(directory) if with_graph else None
        rows, info = self.store.all_chunk_metadata()
        if not np.array_equal(rows, bm25.rows):
            raise IndexCorruptedError(
                f"{self.path}: the BM25 index and kb.sqlite list different chunks; rebuild the index"
            )
        return self._snapshot_of(generation, rows, info, bm25, analyzer, vectors, kg)

    def _snapshot_of(self, generation: int, rows: np.ndarray, info: list, bm25: BM25Index, analyzer: Analyzer,
                     vectors: VectorIndex | None, kg: "KnowledgeGraph | None") -> Snapshot:
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
        return Snapshot(generation, rows, bm25, analyzer, vectors, metadata, graph, nodes, positions)

    # inspection -------------------------------------------------------------------------
    @property
    def generation(self) -> int:
        return self._snapshot.generation

    def __len__(self) -> int:
        return self.store.count_documents()

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and self.store.get_document(doc_id) is not None

    def get(self, doc_id: str) -> Document:
        doc = self.store.get_document(doc_id)
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
        info = self.store.document_info(doc_id)
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
        if self.generation == 0:
            return None
        return json.loads((self.path / "generations" / f"{self.generation:06d}" / "manifest.json").read_text())

    # staging ----------------------------------------------------------------------------
    def upsert(self, documents: Iterable[Document | Mapping[str, Any]]) -> UpsertResult:
        """Stage documents by id. Unchanged content (text and metadata) is skipped entirely.

        The whole batch is validated first; a rejected batch stages nothing.
        """
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
        if isinstance(ids, str):
            raise InvalidInputError("delete takes an iterable of ids; wrap one id in a list")
        ids = list(ids)
        bad = [i for i in ids if not isinstance(i, str)]
        if bad:
            raise InvalidInputError(f"document ids must be str, got {bad[:5]!r}")
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

    def rollback(self) -> None:
        """Discard every staged change."""
        self._pending_upserts.clear()
        self._pending_deletes.clear()

    # committing -------------------------------------------------------------------------
    def commit(self) -> CommitResult:
        """Make staged changes visible atomically, or raise and leave the base as it was."""
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

            generation = snap.generation + 1
            directory = self._write_generation(generation, bm25, snap.analyzer, vectors, kg)
            self.store.apply_commit(deletes, upserts, chunk_rows,
                                    {"generation": generation, "next_row": next_row})
            rows, info = self.store.all_chunk_metadata()
            self._snapshot = self._snapshot_of(generation, rows, info, bm25, snap.analyzer, vectors, kg)
            self.rollback()
            shutil.rmtree(directory.parent / f"{snap.generation:06d}", ignore_errors=True)
            return CommitResult(generation, len(upserts), len(deletes), len(chunk_rows),
                                len(old_rows), embedded, time.perf_counter() - started,
                                len(chunk_rows) if kg is not None else 0)

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
        vectors, _ = self._embed(list(keys))
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)

    def _write_generation(self, generation: int, bm25: BM25Index, analyzer: Analyzer,
                          vectors: VectorIndex | None, kg: "KnowledgeGraph | None") -> Path:
        root = self.path / "generations"
        root.mkdir(exist_ok=True)
        final = root / f"{generation:06d}"
        tmp = root / f"{generation:06d}.tmp"
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
        if not self._embedder_checked and self.embedder is not None:
            _check_same_model(self.settings["embedding"], self.embedder, self.path)
            self._embedder_checked = True

    def _embed(self, texts: list[str]) -> tuple[np.ndarray, int]:
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
            with progress_bar(len(todo), "Embedding", show=self._show(len(todo)), unit="chunk") as bar:
                for i in range(0, len(todo), _EMBED_SLICE):
                    part = todo[i : i + _EMBED_SLICE]
                    vecs = check_embeddings(embedder.embed_documents([t for _, t in part]),
                                            len(part), dim, embedder.model_id)
                    self.store.cache_embeddings([k for k, _ in part], vecs)
                    found.update(zip((k for k, _ in part), vecs))
                    bar.update(len(part))
        out = np.zeros((len(texts), dim), dtype=np.float32)
        for i, key in enumerate(keys):
            out[i] = found[key]
        return out, len(missing)

    # searching ---------------------------------------------------------------------------
    def searchable_snapshot(self) -> Snapshot:
        snap = self._snapshot
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
                                     self.settings["embedding"]["dimension"], self.embedder.model_id)
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
        out = []
        for rank, (row, score) in enumerate(zip(rows.tolist(), scores.tolist()), start=1):
            chunk = chunks.get(row)
            if chunk is None:  # removed by a commit that landed during this search
                continue
            out.append(Hit(chunk, float(score), {source: float(score)}, {source: rank}, (source,)))
        return out

    def bm25_retriever(self, name: str = "bm25") -> "BM25Retriever":
        from rag_plugins.retrievers.bm25 import BM25Retriever

        return BM25Retriever(self, name=name)

    def dense_retriever(self, name: str = "dense") -> "DenseRetriever":
        from rag_plugins.retrievers.dense import DenseRetriever

        return DenseRetriever(self, name=name)

    def hybrid_retriever(self, method: str = "rrf", weights: Mapping[str, float] | None = None,
                         **options: Any) -> "HybridRetriever":
        from rag_plugins.retrievers.hybrid import HybridRetriever

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
        self.store.close()

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


def _check_same_model(recorded: dict[str, Any], embedder: Embedder, path: Path) -> None:
    if recorded["fingerprint"] != embedder.fingerprint or recorded["dimension"] != embedder.dimension:
        raise EmbeddingModelMismatchError(
            f"{path} was embedded with {recorded['model_id']!r} (fingerprint "
            f"{recorded['fingerprint'][:12]}, dimension {recorded['dimension']}), but the embedder "
            f"given is {embedder.model_id!r} (fingerprint {embedder.fingerprint[:12]}, dimension "
            f"{embedder.dimension}). Mixing models gives meaningless scores: open the base without "
            "an embedder to reuse its model, or index into a new directory"
        )

