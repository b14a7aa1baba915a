"""Hits built from the generation's chunk table: the same chunks the store holds, texts
verified when first read from disk, the cache bounded, and batched BM25 ranking exactly as
one query at a time does."""

from __future__ import annotations

import gc
import sqlite3

import pytest

from rag_plugins import Document, KnowledgeBase
from rag_plugins._gc_pause import gc_paused
from rag_plugins.errors import IndexCorruptedError
from rag_plugins.store.chunk_table import ChunkCache

WORDS = "apple banana cherry delta echo foxtrot golf hotel india juliet kilo lima mango".split()


@pytest.fixture
def kb(tmp_path):
    with KnowledgeBase.open(tmp_path / "kb") as base:
        base.upsert(Document(f"d{i}", " ".join(WORDS[j % len(WORDS)] for j in range(i, i + 6)) + f" note {i}",
                             {"group": i % 3}) for i in range(40))
        base.commit()
        yield base


def test_hits_carry_the_chunks_the_store_holds(kb):
    hits = kb.bm25_retriever().retrieve("apple mango note", k=10)
    stored = kb.store.chunks_by_row(kb.searchable_snapshot().rows.tolist())
    by_id = {c.id: c for c in stored.values()}
    assert hits and all(h.chunk == by_id[h.chunk.id] for h in hits)
    again = kb.bm25_retriever().retrieve("apple mango note", k=10)  # from the cache now
    assert [h.chunk for h in again] == [h.chunk for h in hits]


def test_a_text_damaged_on_disk_is_refused_when_first_read(kb):
    with sqlite3.connect(kb.path / "kb.sqlite") as conn:
        conn.execute("UPDATE chunks SET text = 'tampered' WHERE id = 'd3#0'")
    with pytest.raises(IndexCorruptedError, match="d3#0"):
        kb.bm25_retriever().retrieve("note 3", k=40)


def test_the_cache_keeps_within_its_budget():
    from rag_plugins.types import Chunk

    cache = ChunkCache(budget=10)
    cache.put_many({1: Chunk("a", "a", "12345", 0), 2: Chunk("b", "b", "12345", 0)})
    assert set(cache.get_many([1, 2])) == {1, 2} and cache.size == 10
    cache.put_many({3: Chunk("c", "c", "123", 0)})  # the oldest goes
    assert set(cache.get_many([1, 2, 3])) == {2, 3} and cache.size == 8


@pytest.mark.parametrize("filters", [None, {"group": 1}])
def test_batched_bm25_ranks_exactly_as_one_query_at_a_time(kb, filters):
    bm25 = kb.bm25_retriever()
    queries = ["apple banana", "mango note 7", "kilo lima lima", "zzz unknown", "note"]
    for k in (3, 40):
        one = [[(h.chunk.id, h.score) for h in bm25.retrieve(q, k=k, filters=filters)] for q in queries]
        batch = [[(h.chunk.id, h.score) for h in hits] for hits in bm25.batch_retrieve(queries, k=k, filters=filters)]
        assert batch == one
    assert batch[3] == []  # no shared term, no hit
    filtered = kb.bm25_retriever(statistics="filtered")
    assert [[h.chunk.id for h in hits] for hits in filtered.batch_retrieve(queries, k=5, filters={"group": 1})] == \
        [[h.chunk.id for h in filtered.retrieve(q, k=5, filters={"group": 1})] for q in queries]


def test_the_collector_pauses_for_the_outermost_search_only_and_stays_off_if_it_was():
    assert gc.isenabled()
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # the application's choice is kept
    finally:
        gc.enable()
