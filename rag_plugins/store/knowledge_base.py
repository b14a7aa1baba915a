"""The knowledge base: one directory holding documents, chunks and every index.

Layout::

    kb/
      kb.sqlite                  documents, chunks, settings, embedding cache (SQLite)
      writer.lock                held by the one writer (pid, host, since inside)
      generations/000007/        a committed generation's index files + manifest.json
      generations/000007.lock    held shared by every reader of generation 7
      generations/000009/        a standby generation: a re-index not yet switched to,
                                 or what the last switch left (see reindexing)

``upsert`` and ``delete`` stage changes; ``commit`` makes them visible atomically. It
writes the next generation's files, fsyncs them and their manifest, then switches the
generation number in the same SQLite transaction that retires the replaced chunk rows and
adds the new ones. A crash at any point leaves the previous generation loadable.

Any number of readers (``read_only=True``: an MCP server, an API, a notebook) may search
while one writer commits. Each reader holds a lease on the generation it reads and moves
to the newest one on :meth:`KnowledgeBase.refresh` (or by itself, on a cheap check before
each search). Only the writer removes old generations and retired rows, and only those no
lease holds, so a reader never loses the generation under it and never harms the writer.

The store knows its indexes only through :class:`~rag_plugins.index.base.Index` (the kinds
its settings ask for, :mod:`rag_plugins.index`) and knows no retriever: the
``*_retriever`` conveniences ask the retriever catalog (:mod:`rag_plugins.catalog`), which
installs itself as :attr:`KnowledgeBase.catalog` when ``rag_plugins`` is imported.
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Iterator, Mapping, Sequence

import numpy as np

from rag_plugins._search_scope import pinned, pinned_now, reading
from rag_plugins.chunking import StructureAwareChunker
from rag_plugins.errors import (
    DocumentNotFoundError,
    EmptyIndexError,
    IndexCorruptedError,
    InvalidInputError,
    KnowledgeBaseLockedError,
    RagPluginsError,
    ReadOnlyKnowledgeBaseError,
)
from rag_plugins.graph.extraction import Extractor
from rag_plugins.index.bm25 import BM25Params
from rag_plugins.index.faiss_vectors import VectorIndexConfig
from rag_plugins.protocols import Embedder, RetrieverCatalog
from rag_plugins.store import settings as base_settings
from rag_plugins.store.building import StoreServices
from rag_plugins.store.committing import CommitResult, commit_staged
from rag_plugins.store.docstore import DocumentStore
from rag_plugins.store.documents import checked_id, content_hash, index_text
from rag_plugins.store.embedding_cache import EmbeddingCache
from rag_plugins.store import reindexing
from rag_plugins.store import write_back as writing
from rag_plugins.store.generations import Generations, SettingsMoved
from rag_plugins.store.locks import WriterLock, generation_name
from rag_plugins.store.opening import open_base
from rag_plugins.store.manifest import read_manifest
from rag_plugins.store.reindexing import StandbyGeneration
from rag_plugins.store.snapshot import Snapshot
from rag_plugins.store.staging import Staging, UpsertResult
from rag_plugins.loaders import scan_sources
from rag_plugins.store.sync import SyncReport, sync_documents, sync_sources
from rag_plugins.text.analysis import Analyzer
from rag_plugins.types import Chunk, Document, Hit

_log = logging.getLogger("rag_plugins.store")

__all__ = ["CommitResult", "KnowledgeBase", "StandbyGeneration", "UpsertResult", "content_hash", "index_text"]


class KnowledgeBase:
    """Documents, chunks, a BM25 index and (optionally) a dense index and a knowledge
    graph in one directory.

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

    catalog: ClassVar[RetrieverCatalog | None] = None
    """Builds the retrievers ``retriever(kind)`` names; installed by :mod:`rag_plugins.catalog`."""

    def __init__(self, path: Path, store: DocumentStore, settings: dict[str, Any],
                 embedder: Embedder | None, chunker: StructureAwareChunker,
                 show_progress: bool | None, use_gpu: bool | None, extractor: Extractor | None = None,
                 writer_lock: WriterLock | None = None, auto_refresh: bool = True,
                 bm25_statistics: str = "collection", include_generated: bool = False):
        self.path = path
        self.store = store
        self.show_progress = show_progress
        self.use_gpu = use_gpu
        self.extractor = extractor
        self.read_only = writer_lock is None
        self.auto_refresh = auto_refresh
        self.bm25_statistics = bm25_statistics
        self._writer_lock = writer_lock
        self.include_generated = include_generated
        self._standby_embedders: dict[str, Embedder] = {}  # by fingerprint: models this object re-indexed with
        self._staged = Staging(store)
        self._commit_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._adopt(settings, embedder, chunker)
        self._data_version = store.data_version()
        self._snapshot = self.generations.load_current(self._services())

    def _adopt(self, settings: dict[str, Any], embedder: Embedder | None,
               chunker: StructureAwareChunker | None = None) -> None:
        """Use ``settings`` and ``embedder`` from now on (on opening, and after a switch)."""
        self.settings = settings
        self.embedder = embedder
        counter = embedder.count_tokens if embedder is not None and hasattr(embedder, "count_tokens") else None
        self.chunker = chunker or StructureAwareChunker(settings["chunk_size"], settings["chunk_overlap"], counter)
        self._embedder_checked = False
        self.embeddings = EmbeddingCache(self.store, settings, embedder, self.path, self._check_embedder, self._show)
        self.generations = Generations(self.path, self.store, settings)
        self.generations.include_generated = self.include_generated

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
        indexes: Mapping[str, Mapping[str, Any]] | None = None,
        show_progress: bool | None = None,
        use_gpu: bool | None = None,
        read_only: bool = False,
        lock_timeout: float = 0.0,
        auto_refresh: bool = True,
        bm25_statistics: str = "collection",
        verify: bool = True,
        include_generated: bool = False,
        embedding_backend: str | None = None,
    ) -> "KnowledgeBase":
        """Open the knowledge base at ``path``, creating it if it does not exist.

        ``embedder`` is an :class:`~rag_plugins.protocols.Embedder` or a sentence-transformers
        model id/path. A new base without one is BM25-only. An existing base reloads its
        recorded model when ``embedder`` is omitted, and refuses a different one.
        ``embedding_backend`` (``"torch"``, ``"onnx"``, ``"onnx-int8"``) runs a model given
        by id, or the recorded one, on that backend; an existing base reopens on the backend
        it was embedded with, and refuses another (its vectors would differ slightly).
        ``index_context`` (default True) puts each chunk's document title (metadata
        ``title``) and heading path above its text in what BM25 and the embedder see.
        ``graph`` builds a knowledge graph as well: ``True`` for the default
        :class:`~rag_plugins.graph.heuristic.HeuristicExtractor` (no LLM, no download), or
        any :class:`~rag_plugins.graph.extraction.Extractor`. A base with a graph reopens
        with its recorded default extractor; other extractors must be passed again.
        ``indexes`` gives registered index kinds (:func:`rag_plugins.index.register_index`)
        their creation-time settings, ``{kind: {...}}`` as JSON, kept in the base's settings
        under ``"indexes"`` (where the kind's ``wanted`` and ``load`` read them).

        One process at a time opens a base for writing: a second writer gets
        :class:`~rag_plugins.errors.KnowledgeBaseLockedError` naming the holder, at once or
        after ``lock_timeout`` seconds. ``read_only=True`` opens an existing base for
        searching only, alongside a writer; it follows the writer's commits by itself
        unless ``auto_refresh=False`` (then call :meth:`refresh`).

        ``bm25_statistics="filtered"`` makes filtered BM25 searches compute IDF and average
        length over the chunks the filter admits, so tenants sharing a base cannot read
        each other's term statistics through scores (see the README's security section).

        ``include_generated`` lets searches see answers written back by :meth:`write_back`
        (left out by default; a filter naming ``generated`` sees them either way).

        ``verify`` (default True) runs SQLite's integrity check on ``kb.sqlite`` when opening
        (about 5 ms per 1,000 chunks); every chunk, document and generation file is also
        checked against its checksum whenever it is read, whatever ``verify`` says.
        """
        return open_base(cls, Path(path), embedder=embedder, requested=base_settings.requested_settings(
            chunk_size, chunk_overlap, analyzer, bm25, vector_index, index_context, indexes), graph=graph,
            show_progress=show_progress, use_gpu=use_gpu, read_only=read_only, lock_timeout=lock_timeout,
            auto_refresh=auto_refresh, bm25_statistics=bm25_statistics, verify=verify,
            include_generated=include_generated, embedding_backend=embedding_backend)

    def _services(self) -> StoreServices:
        return StoreServices(self.path, self.store, self.settings, self.embeddings, self.extractor, self.use_gpu,
                             self._show)

    def refresh(self) -> bool:
        """Move to the newest committed generation; True when it moved. Readers opened
        with ``auto_refresh`` (the default) do this by themselves before each search."""
        with self._refresh_lock:
            return self._refresh()

    def _refresh(self) -> bool:
        self._data_version = self.store.data_version()
        if self.store.get_meta("generation", 0) == self._snapshot.generation:
            return False
        for _ in range(20):
            try:
                self._snapshot = self.generations.load_current(self._services())
                return True
            except SettingsMoved:  # a switch to another model: follow it
                if not self._adopt_recorded_settings():
                    return False
        raise KnowledgeBaseLockedError(f"{self.path}: the base switched models on every one of 20 tries to follow it")

    def _adopt_recorded_settings(self) -> bool:
        """A reader after a switch: take the base's settings and model now. When the model
        cannot be loaded here, keep serving the generation this reader has, with a warning."""
        settings = base_settings.checked_settings(self.store, self.path)
        recorded = settings.get("embedding")
        embedder = self.embedder
        if recorded is not None and (embedder is None or embedder.fingerprint != recorded["fingerprint"]):
            try:
                embedder = base_settings.load_recorded_embedder(settings, self.path)
            except (RagPluginsError, OSError) as exc:
                _log.warning("%s switched to the embedding model %r, which this reader cannot load (%s); it keeps "
                             "serving generation %d. Reopen the base where the model is available",
                             self.path, recorded["model_id"], exc, self._snapshot.generation)
                return False
        self._adopt(settings, embedder)
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
        return self.generations.collect_garbage()

    # inspection -------------------------------------------------------------------------
    @property
    def generation(self) -> int:
        return self._snapshot.generation

    def __len__(self) -> int:
        return self.store.count_documents()

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and self.store.get_document(checked_id(doc_id)) is not None

    def get(self, doc_id: str) -> Document:
        doc = self.store.get_document(checked_id(doc_id))
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

    def document_info(self, doc_id: str) -> dict[str, Any]:
        """A committed document's freshness: ``version``, ``content_hash``, ``updated_at`` (last
        changed), ``first_indexed``, ``source``, ``source_mtime`` and ``last_checked`` (when a
        sync last looked at its source, else when it was last written); epoch seconds, None
        when unknown (documents indexed before this was recorded, or not from a file)."""
        info = self.store.document_info(checked_id(doc_id))
        if info is None:
            raise DocumentNotFoundError(f"no committed document with id {doc_id!r}")
        source = self.store.get_document(doc_id).metadata.get("source")
        checked = self.store.source_checks(source).get(source) if isinstance(source, str) else None
        if checked is None:  # from a source its documents do not name (a Slack export, a framework loader)
            synced_from = [path for path, record in self.store.sources().items() if doc_id in record.documents]
            checked = self.store.source_checks(synced_from[0]).get(synced_from[0]) if synced_from else None
        return {**info, "source": source if isinstance(source, str) else None,
                "last_checked": checked if checked is not None else info["updated_at"]}

    def document_version(self, doc_id: str) -> int:
        info = self.store.document_info(checked_id(doc_id))
        if info is None:
            raise DocumentNotFoundError(f"no committed document with id {doc_id!r}")
        return info["version"]

    @property
    def has_pending_changes(self) -> bool:
        return bool(self._staged)

    @property
    def chunk_count(self) -> int:
        return len(self._snapshot.rows)

    @property
    def index_kinds(self) -> tuple[str, ...]:
        """The kinds of index this base holds (``bm25`` always; ``vectors``, ``graph``, ...)."""
        return tuple(self._snapshot.indexes)

    def describe(self) -> dict[str, Any]:
        """The generation this object reads, its chunk count, and each index's ``describe()``."""
        snap = self._snapshot
        return {"path": str(self.path), "generation": snap.generation, "chunks": len(snap.rows),
                "documents": len(self), "indexes": {kind: index.describe() for kind, index in snap.indexes.items()}}

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
        return self._staged.upsert(documents)

    def delete(self, ids: Iterable[str], *, missing_ok: bool = False) -> list[str]:
        """Stage deletion of documents by id; unknown ids raise unless ``missing_ok``."""
        self._require_writer("delete")
        return self._staged.delete(ids, missing_ok)

    def _require_writer(self, action: str) -> None:
        if self.read_only:
            raise ReadOnlyKnowledgeBaseError(
                f"cannot {action}: {self.path} was opened with read_only=True. Open it without "
                "read_only in the one process that writes it (a second writer is refused)"
            )
        if not self._writer_lock.held:
            raise ReadOnlyKnowledgeBaseError(f"cannot {action}: {self.path} has been closed; open it again")

    def sync(self, sources: Sequence[str | Path], *, include: Sequence[str] = (), exclude: Sequence[str] = (),
             gitignore: bool = True, follow_symlinks: bool = False, prune: bool = True,
             gate: Callable[["KnowledgeBase"], None] | None = None) -> SyncReport:
        """Bring the base in line with the files under ``sources`` in one atomic commit: new
        files added, changed ones re-indexed, removed ones deleted (``prune``), unchanged ones
        costing a ``stat`` (see :mod:`rag_plugins.store.sync`); ``gate`` gates the commit as
        in :meth:`commit`. Returns the :class:`SyncReport`.

        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "a.md").write_text("# A\\n\\nApples are red.")
        >>> kb = KnowledgeBase.open(tempfile.mkdtemp())
        >>> kb.sync([folder]).to_dict()["added"], kb.sync([folder]).to_dict()["unchanged"]
        (1, 1)
        """
        self._require_writer("sync")
        scan = scan_sources(sources, include=include, exclude=exclude, gitignore=gitignore,
                            follow_symlinks=follow_symlinks)
        return sync_sources(self, scan, prune=prune, gate=gate)

    def sync_documents(self, documents: Iterable[Document | Mapping[str, Any]], source: str, *,
                       prune: bool = True, gate: Callable[["KnowledgeBase"], None] | None = None) -> SyncReport:
        """Bring the base in line with ``documents``, everything one ``source`` gives now (a
        LangChain loader's or a LlamaIndex reader's output, converted by the adapters), in
        one commit: upserted as :meth:`upsert` does, and with ``prune`` the documents that
        ``source`` gave last time but not now deleted. Returns the :class:`SyncReport`."""
        self._require_writer("sync")
        return sync_documents(self, list(documents), source, prune=prune, gate=gate)

    def rollback(self) -> None:
        """Discard every staged change."""
        self._staged.clear()

    # committing -------------------------------------------------------------------------
    def commit(self, gate: Callable[["KnowledgeBase"], None] | None = None) -> CommitResult:
        """Make staged changes visible atomically, or raise and leave the base as it was
        (:func:`rag_plugins.store.committing.commit_staged`).

        ``gate(kb)`` runs with ``kb`` searching the new generation before anyone else can
        (a :class:`~rag_plugins.ops.gate.RegressionGate`, say); when it raises, nothing
        is published and the changes stay staged (``rollback()`` drops them)."""
        self._require_writer("commit")
        with self._commit_lock:
            return commit_staged(self, gate)

    # written-back answers ----------------------------------------------------------------
    def write_back(self, answer: str, citations: Sequence[Any], question: str, *, model: str | None = None,
                   verifier: Any = None, batch: str = "default", min_coverage: float = writing.MIN_COVERAGE,
                   min_support: float = writing.MIN_SUPPORT, max_similarity: float = writing.MAX_SIMILARITY,
                   log: Any = None) -> writing.WriteBackResult:
        """Add a generated ``answer`` to ``question`` as a document, only when every cited
        chunk (ids or hits) is current, every sentence is supported by one, and it is no
        near-duplicate (:mod:`rag_plugins.store.write_back`). Generated documents are left
        out of searches by default; :meth:`remove_generated` deletes them as a group.

        >>> import tempfile
        >>> kb = KnowledgeBase.open(tempfile.mkdtemp())
        >>> _ = kb.upsert([Document("p", "Refunds are accepted within 30 days of purchase.")]); _ = kb.commit()
        >>> kb.write_back("Refunds are accepted for 30 days.", ["p#0"], "How long are refunds accepted?").accepted
        True
        >>> kb.write_back("Refunds are accepted for 90 days.", ["p#0"], "And now?").failed.name
        'attribution'
        """
        return writing.write_back(self, answer, citations, question, model=model, verifier=verifier, batch=batch,
                                  min_coverage=min_coverage, min_support=min_support,
                                  max_similarity=max_similarity, log=log)

    def remove_generated(self, batch: str | None = None) -> list[str]:
        """Delete every written-back document (or one ``batch`` of them) in one commit."""
        return writing.remove_generated(self, batch)

    # re-embedding ------------------------------------------------------------------------
    def reindex(self, embedder: Embedder | str) -> StandbyGeneration:
        """Embed every chunk with ``embedder`` (an :class:`~rag_plugins.protocols.Embedder`
        or a sentence-transformers model id/path) into a pending generation beside the
        current one, which keeps serving; :meth:`switch` makes it current.

        >>> import tempfile
        >>> from rag_plugins.embeddings import SentenceTransformerEmbedder
        >>> kb = KnowledgeBase.open(tempfile.mkdtemp(), embedder=old_model)    # doctest: +SKIP
        >>> kb.reindex(new_model).generation, kb.generation                    # doctest: +SKIP
        (3, 2)
        >>> kb.switch(), kb.standby()["previous"].generation                  # doctest: +SKIP
        (3, 2)
        """
        if isinstance(embedder, str):
            from rag_plugins.embeddings.sentence_transformer import SentenceTransformerEmbedder

            embedder = SentenceTransformerEmbedder(embedder)
        with self._commit_lock:
            return reindexing.build_pending(self, embedder)

    def switch(self, role: str = "pending", embedder: Embedder | None = None,
               gate: Callable[["KnowledgeBase"], None] | None = None) -> int:
        """Make the ``pending`` generation (or, to roll back, the ``previous`` one) current,
        atomically; returns the generation now current. Commits made since it was built are
        applied to it first, by its own model (``embedder``, else the one it records).
        ``gate(kb)`` runs on it first, as for :meth:`commit`; raising switches nothing."""
        with self._commit_lock:
            return reindexing.switch(self, role, embedder, gate)

    def discard(self, role: str = "pending") -> int | None:
        """Forget the standby generation ``role`` (``pending`` or ``previous``)."""
        self._require_writer("discard a generation")
        with self._commit_lock:
            return reindexing.discard(self, role)

    def standby(self) -> dict[str, StandbyGeneration]:
        """The standby generations kept beside the current one, by role."""
        return reindexing.standby_generations(self)

    def standby_snapshot(self, role: str = "pending", embedder: Embedder | None = None) -> Snapshot:
        """The standby generation ``role``, loaded, to search with :meth:`reading`."""
        return reindexing.standby_snapshot(self, role, embedder)

    @contextmanager
    def reading(self, snapshot: Snapshot) -> Iterator[None]:
        """Within this block (this thread), searches of this base read ``snapshot``:

        >>> with kb.reading(kb.standby_snapshot()):                           # doctest: +SKIP
        ...     hits = kb.hybrid_retriever().retrieve("query")
        """
        with reading(self, snapshot):
            yield

    def _show(self, n: int) -> bool | None:
        return self.show_progress if n >= 200 else False

    def _check_embedder(self) -> None:
        if self._embedder_checked or self.embedder is None:
            return
        base_settings.check_embedder(self.settings, self.embedder, self.store, self.path, self.read_only)
        self._embedder_checked = True

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

    def _searched_embeddings(self) -> EmbeddingCache:
        """The embeddings of the generation this thread's search reads (its model)."""
        return getattr(pinned_now(self) or pinned(self, self._current()), "embeddings", None) or self.embeddings

    def embed_queries(self, queries: Sequence[str]) -> np.ndarray:
        """Query vectors, by the model of the generation searched; the last 1,024 distinct
        queries are kept, so the routes and fusions that read one query reuse one embedding."""
        return self._searched_embeddings().queries(queries)

    def clear_query_cache(self) -> None:
        """Forget the cached query vectors (so a benchmark times every query's embedding)."""
        self.embeddings.clear_queries()

    def chunk_embeddings(self, chunks: Sequence[Chunk]) -> np.ndarray:
        """The stored vectors of ``chunks`` (from the content-hash cache; a chunk whose
        vector is missing is embedded now). Used by MMR and anything comparing chunks."""
        return self._searched_embeddings().embed([index_text(c, self.settings["index_context"]) for c in chunks])[0]

    def entity_vectors(self, keys: list[str]) -> np.ndarray:
        """Unit vectors of entity keys (embedded once, then read from the content-hash cache)."""
        return self._searched_embeddings().entity_vectors(keys)

    def hits(self, rows: np.ndarray, scores: np.ndarray, source: str) -> list[Hit]:
        """Chunk rows an index returned, as ranked hits credited to ``source`` (built from
        the searched generation's chunk table: no SQLite read for a text searched lately)."""
        snap = pinned_now(self) or pinned(self, self._current())
        return Hit.ranked(snap.chunks.chunks(rows), np.asarray(scores, dtype=np.float64).tolist(), source)

    # retrievers, from the catalog ----------------------------------------------------------
    def retriever(self, kind: str, **options: Any) -> Any:
        """The retriever of ``kind`` over this base (:data:`rag_plugins.catalog.CATALOG`:
        ``bm25``, ``dense``, ``hybrid``, ``graph``, ``graph+hybrid``, ``routed``, ...)."""
        if KnowledgeBase.catalog is None:
            raise InvalidInputError("no retriever catalog is installed; import rag_plugins first")
        return KnowledgeBase.catalog.build(kind, self, **options)

    def bm25_retriever(self, name: str = "bm25", statistics: str | None = None) -> Any:
        return self.retriever("bm25", name=name, statistics=statistics)

    def dense_retriever(self, name: str = "dense") -> Any:
        return self.retriever("dense", name=name)

    def hybrid_retriever(self, method: str | None = None, weights: Mapping[str, float] | None = None,
                         **options: Any) -> Any:
        """BM25 and dense fused; by default z-score fusion with BM25 weighted 2 to dense's 1
        (:data:`~rag_plugins.retrievers.fusion.HYBRID_FUSION` and ``HYBRID_WEIGHTS``, chosen on
        training data). Another ``method`` without ``weights`` weighs both equally."""
        return self.retriever("hybrid", method=method, weights=weights, **options)

    def graph_retriever(self, mode: str = "ppr", **options: Any) -> Any:
        return self.retriever("graph", mode=mode, **options)

    @property
    def knowledge_graph(self) -> Any:
        """The committed knowledge graph (networkx inside: ``kb.knowledge_graph.graph``), or
        None for a base built without one. Treat it as read-only."""
        graph = self._snapshot.indexes.get("graph")
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

