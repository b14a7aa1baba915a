"""The vector index kind: chunk embeddings in FAISS (:mod:`rag_plugins.index.faiss_vectors`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from rag_plugins.index.base import IndexBase, IndexChanges, IndexServices, register_index
from rag_plugins.index.faiss_vectors import VectorIndex, VectorIndexConfig


@register_index
class DenseIndex(IndexBase):
    """A base built with an embedder has one. The embedding itself is the store's (cached
    by content hash, shared with the graph's entity names and the query cache)."""

    kind = "vectors"
    embeds = True
    missing = ("has no dense index (it was built without an embedder); use BM25 retrieval, or index into a "
               "new directory with an embedder")

    def __init__(self, vectors: VectorIndex):
        self.vectors = vectors

    @classmethod
    def wanted(cls, settings: Mapping[str, Any]) -> bool:
        return settings.get("embedding") is not None

    @staticmethod
    def _config(services: IndexServices) -> VectorIndexConfig:
        return VectorIndexConfig(**{**services.settings["vector_index"], "use_gpu": services.use_gpu})

    @classmethod
    def empty(cls, services: IndexServices) -> "DenseIndex":
        return cls(VectorIndex.empty(services.settings["embedding"]["dimension"], cls._config(services)))

    @classmethod
    def load(cls, directory: Path, services: IndexServices) -> "DenseIndex":
        return cls(VectorIndex.load(directory, services.use_gpu))

    def apply(self, changes: IndexChanges, services: IndexServices) -> "DenseIndex":
        vectors = services.embed(changes.texts)
        return DenseIndex(self.vectors.apply(changes.removed_rows, changes.added_rows, vectors))

    def save(self, directory: Path) -> list[str]:
        return self.vectors.save(directory)

    def search(self, query: np.ndarray, k: int, allowed_rows: np.ndarray | None = None
               ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per query vector (rows of ``query``), the nearest ``k`` chunk rows by inner product."""
        return self.vectors.search(query, k, allowed_rows)

    def __len__(self) -> int:
        return self.vectors.live_count

    def settings(self) -> dict[str, Any]:
        # config only: asking on_gpu would copy the index to a GPU inside every commit's manifest write
        return {**self.vectors.config.to_dict(), "dimension": self.vectors.dimension}
