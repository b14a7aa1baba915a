"""A FAISS inner-product index over chunk rows: exact by default, HNSW or IVF on request.

Vector ids are chunk rows (``IndexIDMap2``), so deleting a chunk is ``remove_ids``. HNSW
cannot remove vectors, so its deletions are tombstones excluded at search time and
compacted away once they pass a quarter of the index. Filters are pushed into the search
as an id selector; an approximate index that then returns fewer than ``k`` hits falls
back to exact scoring of the allowed vectors, so a filtered query always returns
``min(k, matching chunks)``. When faiss reports a GPU, unfiltered searches run on a GPU
copy (selectors are CPU-only in faiss).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rag_plugins._deps import require
from rag_plugins.errors import InvalidInputError

_TOMBSTONE_COMPACT_RATIO = 0.25


@dataclass(frozen=True)
class VectorIndexConfig:
    """How vectors are indexed. ``kind='flat'`` is exact; ``hnsw`` and ``ivf`` are approximate.

    >>> VectorIndexConfig(kind="hnsw", hnsw_m=16).kind
    'hnsw'
    """

    kind: Literal["flat", "hnsw", "ivf"] = "flat"
    hnsw_m: int = 32
    ef_construction: int = 200
    ef_search: int = 128
    nlist: int | None = None
    nprobe: int = 16
    use_gpu: bool | None = None  # None: use a GPU when faiss has one

    def __post_init__(self) -> None:
        if self.kind not in ("flat", "hnsw", "ivf"):
            raise InvalidInputError(f"vector index kind must be flat, hnsw or ivf, got {self.kind!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _faiss() -> Any:
    return require("faiss", "Dense retrieval")


def gpu_count() -> int:
    faiss = _faiss()
    get = getattr(faiss, "get_num_gpus", None)
    return int(get()) if get else 0


class VectorIndex:
    """One immutable generation of the dense index; :meth:`apply` returns the next."""

    def __init__(self, index: Any, dimension: int, config: VectorIndexConfig,
                 rows: np.ndarray | None = None, tombstones: np.ndarray | None = None):
        self.index = index
        self.rows = np.zeros(0, np.int64) if rows is None else np.sort(np.asarray(rows, np.int64))
        self.dimension = dimension
        self.config = config
        self.tombstones = np.zeros(0, np.int64) if tombstones is None else np.sort(tombstones)
        self._gpu_index: Any = None
        self._gpu_checked = False

    @classmethod
    def empty(cls, dimension: int, config: VectorIndexConfig) -> "VectorIndex":
        faiss = _faiss()
        if config.kind == "hnsw":
            inner = faiss.IndexHNSWFlat(dimension, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = config.ef_construction
            index = faiss.IndexIDMap2(inner)
        elif config.kind == "flat":
            index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        else:
            index = None  # IVF is created at first add, when nlist can be sized to the data
        return cls(index, dimension, config)

    @property
    def live_count(self) -> int:
        return 0 if self.index is None else int(self.index.ntotal) - len(self.tombstones)

    def apply(self, delete_rows: np.ndarray, add_rows: np.ndarray, add_vectors: np.ndarray) -> "VectorIndex":
        """A new index without ``delete_rows`` and with ``add_vectors`` under ``add_rows``."""
        faiss = _faiss()
        delete_rows = np.asarray(delete_rows, np.int64)
        add_rows = np.asarray(add_rows, np.int64)
        add_vectors = np.ascontiguousarray(add_vectors, dtype=np.float32)
        if len(add_rows) and add_vectors.shape != (len(add_rows), self.dimension):
            raise InvalidInputError(
                f"expected vectors of shape ({len(add_rows)}, {self.dimension}), got {add_vectors.shape}"
            )
        index = None if self.index is None else faiss.clone_index(self.index)
        tombstones = self.tombstones
        if index is not None and len(delete_rows):
            if self.config.kind == "hnsw":
                tombstones = np.union1d(tombstones, delete_rows)
            elif self.config.kind == "ivf":
                index.remove_ids(faiss.IDSelectorArray(delete_rows))
            else:
                index.remove_ids(faiss.IDSelectorBatch(delete_rows))
        if index is None and len(add_rows):
            index = self._new_ivf(add_vectors)
        if len(add_rows):
            index.add_with_ids(add_vectors, add_rows)
        rows = self.rows
        if self.config.kind != "hnsw":
            rows = np.setdiff1d(rows, delete_rows)
        rows = np.union1d(rows, add_rows)
        result = VectorIndex(index, self.dimension, self.config, rows, tombstones)
        if len(tombstones) > _TOMBSTONE_COMPACT_RATIO * max(len(rows), 1):
            result = result._compacted()
        return result

    def _new_ivf(self, vectors: np.ndarray) -> Any:
        faiss = _faiss()
        n = len(vectors)
        nlist = self.config.nlist or max(1, int(4 * math.sqrt(n)))
        nlist = max(1, min(nlist, n // 39 or 1))
        # IVF holds the row ids itself: IndexIDMap2 cannot remove from it
        index = faiss.index_factory(self.dimension, f"IVF{nlist},Flat", faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
        return index

    def _compacted(self) -> "VectorIndex":
        live = self.live_rows()
        vectors = self.reconstruct(live)
        fresh = VectorIndex.empty(self.dimension, self.config)
        return fresh.apply(np.zeros(0, np.int64), live, vectors)

    def live_rows(self) -> np.ndarray:
        return np.setdiff1d(self.rows, self.tombstones)

    def reconstruct(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, np.int64)
        if len(rows) == 0:
            return np.zeros((0, self.dimension), np.float32)
        if self.config.kind == "ivf":  # the hashtable direct map reconstructs one id at a time
            return np.stack([self.index.reconstruct(int(r)) for r in rows])
        return self.index.reconstruct_batch(rows)

    def search(self, queries: np.ndarray, k: int, allowed_rows: np.ndarray | None = None
               ) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each query, (rows, scores) of the best ``k`` live vectors among ``allowed_rows``."""
        faiss = _faiss()
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if self.index is None or self.live_count == 0:
            return [(np.zeros(0, np.int64), np.zeros(0, np.float32)) for _ in queries]
        if allowed_rows is not None and len(self.tombstones):
            allowed_rows = np.setdiff1d(allowed_rows, self.tombstones)
        available = self.live_count if allowed_rows is None else len(allowed_rows)
        k = min(k, available)
        if k == 0:
            return [(np.zeros(0, np.int64), np.zeros(0, np.float32)) for _ in queries]
        selector = None
        if allowed_rows is not None:
            selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed_rows, np.int64))
        elif len(self.tombstones):
            selector = faiss.IDSelectorNot(faiss.IDSelectorBatch(self.tombstones))
        index = self.index if selector is not None else self._search_index()
        scores, ids = index.search(queries, k, params=self._params(selector))
        out = []
        for qi in range(len(queries)):
            keep = ids[qi] >= 0
            rows, sc = ids[qi][keep], scores[qi][keep]
            if len(rows) < k:  # approximate search came up short: score exactly
                candidates = self.live_rows()
                if allowed_rows is not None:
                    candidates = np.intersect1d(candidates, allowed_rows)
                rows, sc = self._exact(queries[qi], candidates, k)
            out.append((rows.astype(np.int64), sc.astype(np.float32)))
        return out

    def _exact(self, query: np.ndarray, candidates: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        vectors = self.reconstruct(candidates)
        scores = vectors @ query
        top = np.argsort(-scores, kind="stable")[:k]
        return candidates[top], scores[top]

    def _params(self, selector: Any) -> Any:
        faiss = _faiss()
        if self.config.kind == "hnsw":
            return faiss.SearchParametersHNSW(sel=selector, efSearch=self.config.ef_search)
        if self.config.kind == "ivf":
            return faiss.SearchParametersIVF(sel=selector, nprobe=self.config.nprobe)
        return faiss.SearchParameters(sel=selector) if selector is not None else None

    def _search_index(self) -> Any:
        """The index unfiltered searches use: a GPU copy when one is available."""
        if not self._gpu_checked:
            self._gpu_checked = True
            wanted = self.config.use_gpu
            if wanted is not False and self.config.kind != "hnsw" and gpu_count() > 0:
                faiss = _faiss()
                self._gpu_index = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, self.index)
            elif wanted is True:
                raise InvalidInputError(
                    "use_gpu=True but faiss reports no GPU (or the index is HNSW, which faiss "
                    'runs on CPU only); install "rag-plugins[gpu]" on a CUDA machine'
                )
        return self._gpu_index if self._gpu_index is not None else self.index

    @property
    def on_gpu(self) -> bool:
        self._search_index()
        return self._gpu_index is not None

    def save(self, directory: Path) -> list[str]:
        faiss = _faiss()
        files = ["vectors.json", "vectors_rows.npy", "vectors_tombstones.npy"]
        (directory / "vectors.json").write_text(
            json.dumps({"dimension": self.dimension, "config": self.config.to_dict(),
                        "has_index": self.index is not None})
        )
        np.save(directory / "vectors_tombstones.npy", self.tombstones, allow_pickle=False)
        np.save(directory / "vectors_rows.npy", self.rows, allow_pickle=False)
        if self.index is not None:
            faiss.write_index(self.index, str(directory / "vectors.faiss"))
            files.append("vectors.faiss")
        return files

    @classmethod
    def load(cls, directory: Path, use_gpu: bool | None = None) -> "VectorIndex":
        faiss = _faiss()
        meta = json.loads((directory / "vectors.json").read_text())
        config = VectorIndexConfig(**{**meta["config"], "use_gpu": use_gpu})
        index = faiss.read_index(str(directory / "vectors.faiss")) if meta["has_index"] else None
        tombstones = np.load(directory / "vectors_tombstones.npy", allow_pickle=False)
        rows = np.load(directory / "vectors_rows.npy", allow_pickle=False)
        if config.kind == "ivf" and index is not None:
            index.set_direct_map_type(faiss.DirectMap.Hashtable)
        return cls(index, meta["dimension"], config, rows, tombstones)
