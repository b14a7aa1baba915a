import asyncio
import time

import pytest

from rag_plugins import Document, KnowledgeBase


@pytest.fixture
def kb(tmp_path, embedder):
    docs = [Document(f"d{i}", f"paragraph about rivers, mountains and the history of town{i}") for i in range(300)]
    base = KnowledgeBase.open(tmp_path / "kb", embedder=embedder)
    base.upsert(docs)
    base.commit()
    return base


@pytest.mark.asyncio
async def test_aretrieve_does_not_block_the_event_loop(kb):
    retriever = kb.hybrid_retriever()
    # the first query loads the encoder once (holding the GIL); measure steady-state searches
    await retriever.aretrieve("warm up", k=1)
    ticks: list[float] = []
    stop = asyncio.Event()

    async def heartbeat():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.002)

    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(0.01)
    start = time.perf_counter()
    results = await asyncio.gather(*(retriever.aretrieve(f"history of town{i}", k=3) for i in range(12)))
    end = time.perf_counter()
    stop.set()
    await beat
    assert [r[0].document_id for r in results] == [f"d{i}" for i in range(12)]
    during = [t for t in ticks if start <= t <= end]
    # the loop kept ticking while searches ran: no gap anywhere near the whole search time
    gaps = [b - a for a, b in zip(during, during[1:])]
    assert len(during) >= 3 and max(gaps) < (end - start) / 2


@pytest.mark.asyncio
async def test_abatch_retrieve(kb):
    results = await kb.bm25_retriever().abatch_retrieve(["town5", "town6"], k=1)
    assert [r[0].document_id for r in results] == ["d5", "d6"]
