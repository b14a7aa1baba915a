import numpy as np
import pytest

from rag_plugins.index.faiss_vectors import VectorIndex, VectorIndexConfig, gpu_count


def unit(n, d=32, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_delete_filter_and_persist(tmp_path, kind):
    x = unit(1200)
    index = VectorIndex.empty(32, VectorIndexConfig(kind=kind)).apply([], np.arange(1200), x)
    index = index.apply(np.arange(0, 50), [], np.zeros((0, 32), np.float32))
    assert index.live_count == 1150
    rows, _ = index.search(x[:1], 5)[0]
    assert 0 not in rows  # deleted vectors never come back
    rows, scores = index.search(x[60:61], 3)[0]
    assert rows[0] == 60 and scores[0] == pytest.approx(1.0, abs=1e-5)
    # a selective filter still yields min(k, allowed) hits
    allowed = np.array([70, 500, 999])
    rows, _ = index.search(x[500:501], 10, allowed)[0]
    assert sorted(rows) == [70, 500, 999] and rows[0] == 500
    index.save(tmp_path)
    loaded = VectorIndex.load(tmp_path)
    assert np.array_equal(loaded.search(x[60:61], 3)[0][0], index.search(x[60:61], 3)[0][0])
    assert loaded.live_count == 1150


def test_hnsw_tombstones_compact():
    x = unit(400)
    index = VectorIndex.empty(32, VectorIndexConfig(kind="hnsw")).apply([], np.arange(400), x)
    index = index.apply(np.arange(50), [], np.zeros((0, 32), np.float32))
    assert len(index.tombstones) == 50
    index = index.apply(np.arange(50, 150), [], np.zeros((0, 32), np.float32))
    assert len(index.tombstones) == 0 and index.live_count == 250
    assert index.search(x[200:201], 1)[0][0][0] == 200


def test_apply_does_not_mutate_the_previous_generation():
    x = unit(100)
    first = VectorIndex.empty(32, VectorIndexConfig()).apply([], np.arange(100), x)
    first.apply(np.arange(10), [], np.zeros((0, 32), np.float32))
    assert first.live_count == 100 and first.search(x[:1], 1)[0][0][0] == 0


@pytest.mark.gpu
@pytest.mark.skipif(gpu_count() == 0, reason="faiss reports no GPU")
def test_unfiltered_search_runs_on_the_gpu():
    x = unit(1000)
    index = VectorIndex.empty(32, VectorIndexConfig(kind="flat")).apply([], np.arange(1000), x)
    assert index.on_gpu
    rows, _ = index.search(x[:4], 5)[0]
    assert rows[0] == 0
    rows, _ = index.search(x[:1], 3, np.array([0, 5, 9]))[0]  # filtered: CPU selector path
    assert sorted(rows) == [0, 5, 9]
