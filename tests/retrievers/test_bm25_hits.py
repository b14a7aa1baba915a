"""A BM25 hit shares at least one term with the query: zero-score chunks are not hits."""

import asyncio

import pytest

from rag_plugins import KnowledgeBase
from rag_plugins.tools import NO_PASSAGES, Toolkit


@pytest.fixture
def kb(tmp_path, corpus):
    base = KnowledgeBase.open(tmp_path / "kb", show_progress=False)
    base.upsert(corpus)
    base.commit()
    return base


@pytest.mark.parametrize("query", ["the of and is", "what is it", "zeppelin"])
def test_a_query_sharing_no_term_with_any_chunk_has_no_hits(kb, query):
    bm25 = kb.bm25_retriever()
    assert bm25.retrieve(query, k=5) == []
    assert asyncio.run(bm25.aretrieve(query, k=5)) == []
    assert bm25.batch_retrieve([query, "dog walks"], k=5)[0] == []
    assert kb.bm25_retriever(statistics="filtered").retrieve(query, k=5, filters={"topic": "animals"}) == []


def test_fewer_than_k_chunks_match_so_fewer_than_k_hits(kb):
    hits = kb.bm25_retriever().retrieve("the capital city", k=6)
    assert [h.document_id for h in hits] == ["rome", "paris"] and all(h.score > 0 for h in hits)
    filtered = kb.bm25_retriever().retrieve("the capital city", k=6, filters={"topic": "animals"})
    assert filtered == []  # the animals share no term with the query: none is padded in


def test_the_bm25_tool_says_it_found_nothing_rather_than_inventing_passages(kb):
    tools = Toolkit.from_knowledge_base(kb)
    result = tools.call("search_bm25", {"query": "the of and is"})
    assert result.hits == [] and not result.is_error and result.content == NO_PASSAGES
