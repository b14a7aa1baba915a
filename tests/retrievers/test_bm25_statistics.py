"""Per-tenant BM25 statistics: another tenant's documents never move a filtered score."""

import numpy as np
import pytest

from rag_plugins import Document, KnowledgeBase
from rag_plugins.errors import InvalidInputError

A_DOCS = [Document(f"a{i}", f"copper wire {'and copper alloy ' * (i % 3)}report number {i}", {"tenant": "A"})
          for i in range(20)]
B_DOCS = [Document(f"b{i}", f"copper smelting ledger {i} copper copper", {"tenant": "B"}) for i in range(500)]


def scores(kb, statistics):
    hits = kb.bm25_retriever(statistics=statistics).retrieve("copper alloy report", k=20, filters={"tenant": "A"})
    return {h.chunk.id: h.score for h in hits}


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    root = tmp_path_factory.mktemp("tenants")
    alone = KnowledgeBase.open(root / "alone", show_progress=False)
    alone.upsert(A_DOCS)
    alone.commit()
    shared = KnowledgeBase.open(root / "shared", show_progress=False)
    shared.upsert(A_DOCS)
    shared.commit()
    before = {s: scores(shared, s) for s in ("collection", "filtered")}
    shared.upsert(B_DOCS)
    shared.commit()
    yield alone, shared, before
    alone.close()
    shared.close()


def test_filtered_statistics_give_the_scores_of_a_base_holding_only_that_tenant(bases):
    alone, shared, before = bases
    only_a = {h.chunk.id: h.score for h in alone.bm25_retriever().retrieve("copper alloy report", k=20)}
    after = scores(shared, "filtered")
    assert after.keys() == only_a.keys()
    assert np.allclose([after[i] for i in only_a], list(only_a.values()), rtol=1e-6)
    assert after == before["filtered"]  # 500 documents of tenant B changed nothing


def test_collection_statistics_leak_another_tenants_term_frequencies(bases):
    _, shared, before = bases
    after = scores(shared, "collection")
    change = max(abs(after[i] - before["collection"][i]) / before["collection"][i] for i in after)
    print(f"\ncollection statistics: 500 tenant-B documents moved tenant A's filtered BM25 scores by up to "
          f"{change:.0%}; filtered statistics: 0%")
    assert change > 0.2


def test_the_base_default_applies_to_every_bm25_retriever_it_hands_out(tmp_path):
    with KnowledgeBase.open(tmp_path, bm25_statistics="filtered") as kb:
        assert kb.bm25_retriever().statistics is None and kb.bm25_statistics == "filtered"
    with pytest.raises(InvalidInputError, match="bm25_statistics"):
        KnowledgeBase.open(tmp_path, bm25_statistics="per-tenant")
