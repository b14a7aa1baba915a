"""What the store lends its indexes (:class:`~rag_plugins.index.base.IndexServices`): the
settings, the shared embedding cache, and the entity extraction cache."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from rag_plugins._progress import progress_bar
from rag_plugins.errors import InvalidInputError
from rag_plugins.graph.extraction import Extraction, Extractor
from rag_plugins.store.docstore import DocumentStore
from rag_plugins.store.embedding_cache import EMBED_SLICE, EmbeddingCache
from rag_plugins.types import Chunk


class StoreServices:
    """One per load or commit; counts the chunks it embedded and extracted (a commit reports them)."""

    def __init__(self, path: Path, store: DocumentStore, settings: dict[str, Any], embeddings: EmbeddingCache,
                 extractor: Extractor | None, use_gpu: bool | None, show: Callable[[int], bool | None]):
        self.path = path
        self.store = store
        self.settings = settings
        self.embeddings = embeddings
        self.extractor = extractor
        self.use_gpu = use_gpu
        self._show = show
        self.chunks_embedded = 0
        self.chunks_extracted = 0

    @property
    def has_embedder(self) -> bool:
        return self.embeddings.embedder is not None

    def show_progress(self, n: int) -> bool | None:
        return self._show(n)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors, embedded = self.embeddings.embed(list(texts))
        self.chunks_embedded += embedded
        return vectors

    def entity_vectors(self, keys: Sequence[str]) -> np.ndarray:
        return self.embeddings.entity_vectors(keys)

    def chunk_ids(self, rows: np.ndarray) -> list[str]:
        return [c.id for c in self.store.chunks_by_row(np.asarray(rows).tolist()).values()]

    def extract(self, chunks: Sequence[Chunk]) -> list[Extraction]:
        """The extractor's output for ``chunks``; an extractor with ``cache = True`` (the LLM
        ones) is asked only about text it has not seen, keyed by config and content hash."""
        if self.extractor is None:
            raise InvalidInputError(
                f"the knowledge base at {self.path} has a graph built by {self.settings['graph']!r}; "
                "pass that extractor to KnowledgeBase.open(..., graph=extractor) to change its documents"
            )
        self.chunks_extracted += len(chunks)
        cached: dict[str, dict] = {}
        keys: list[str] = []
        if getattr(self.extractor, "cache", False):
            prefix = json.dumps(self.settings["graph"], sort_keys=True) + "\x00"
            keys = [hashlib.sha256((prefix + c.contextual_text).encode()).hexdigest() for c in chunks]
            cached = self.store.cached_extractions(sorted(set(keys)))
        todo = [c for i, c in enumerate(chunks) if not keys or keys[i] not in cached]
        found: dict[str, Extraction] = {}
        with progress_bar(len(todo), "Extracting entities", show=self._show(len(todo)), unit="chunk") as bar:
            for i in range(0, len(todo), EMBED_SLICE):
                part = todo[i : i + EMBED_SLICE]
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
