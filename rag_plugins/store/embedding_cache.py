"""The embeddings a knowledge base has computed: chunk and entity-name vectors cached in
``kb.sqlite`` by content hash, and the last 1,024 query vectors in memory."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from rag_plugins._progress import progress_bar
from rag_plugins.embeddings.validation import check_embeddings
from rag_plugins.errors import InvalidInputError
from rag_plugins.protocols import Embedder
from rag_plugins.store.docstore import DocumentStore

EMBED_SLICE = 256
"""Texts embedded (and cached) per call: the unit of progress, and what a crash can lose."""
QUERY_CACHE = 1024


class EmbeddingCache:
    """Embeds through the base's embedder, each distinct text once.

    ``check`` is called before the first embedding (it verifies that the embedder is the
    model that built the base); ``show`` says whether a loop of ``n`` shows progress.
    """

    def __init__(self, store: DocumentStore, settings: dict[str, Any], embedder: Embedder | None, path: Path,
                 check: Callable[[], None], show: Callable[[int], bool | None]):
        self.store = store
        self.settings = settings
        self.embedder = embedder
        self.path = path
        self._check = check
        self._show = show
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._queries_lock = threading.Lock()

    @property
    def dimension(self) -> int:
        return self.settings["embedding"]["dimension"]

    def _require(self, what: str) -> Embedder:
        if self.embedder is None:
            raise InvalidInputError(
                f"the knowledge base at {self.path} has no {what} (it was built without an embedder); "
                "use BM25 retrieval, or index into a new directory with an embedder"
            )
        self._check()
        return self.embedder

    def embed(self, texts: Sequence[str], label: str = "Embedding", unit: str = "chunk") -> tuple[np.ndarray, int]:
        """Vectors of ``texts`` from the content-hash cache, embedding the missing ones;
        returns (vectors, how many were newly embedded)."""
        embedder = self._require("embeddings")
        dim = self.dimension
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
                for i in range(0, len(todo), EMBED_SLICE):
                    part = todo[i : i + EMBED_SLICE]
                    vecs = check_embeddings(embedder.embed_documents([t for _, t in part]),
                                            len(part), dim, embedder.model_id, bool(embedder.normalize))
                    self.store.cache_embeddings([k for k, _ in part], vecs)
                    found.update(zip((k for k, _ in part), vecs))
                    bar.update(len(part))
        out = np.zeros((len(texts), dim), dtype=np.float32)
        for i, key in enumerate(keys):
            out[i] = found[key]
        return out, len(missing)

    def entity_vectors(self, keys: Sequence[str]) -> np.ndarray:
        """Unit vectors of entity keys (embedded once, then read from the cache)."""
        if not keys:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors, _ = self.embed(list(keys), "Embedding entity names", "name")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)

    def queries(self, queries: Sequence[str]) -> np.ndarray:
        """Query vectors; the last 1,024 distinct queries are kept, so the routes and
        fusions that read one query all reuse one embedding."""
        embedder = self._require("dense index")
        queries = list(queries)
        with self._queries_lock:
            cached = {q: self._queries[q] for q in queries if q in self._queries}
        todo = list(dict.fromkeys(q for q in queries if q not in cached))
        if todo:
            fresh = check_embeddings(embedder.embed_queries(todo), len(todo), self.dimension, embedder.model_id,
                                     bool(embedder.normalize))
            cached.update(zip(todo, fresh))
        with self._queries_lock:
            for q in queries:
                self._queries[q] = cached[q]
                self._queries.move_to_end(q)
            while len(self._queries) > QUERY_CACHE:
                self._queries.popitem(last=False)
        return np.stack([cached[q] for q in queries]) if queries else np.zeros((0, self.dimension), np.float32)

    def clear_queries(self) -> None:
        with self._queries_lock:
            self._queries.clear()
