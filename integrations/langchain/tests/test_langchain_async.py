"""Concurrent async calls overlap: ``ainvoke`` on the retriever, the compressor and the
tools run their CPU work off the event loop (see tests/concurrency.py)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.documents import Document

from langchain_rag_plugins import RagPluginsReranker, RagPluginsRetriever, as_langchain_tools
from rag_plugins.rerank import CrossEncoderReranker
from rag_plugins.tools import SearchTool, Toolkit
from tests.concurrency import Rendezvous, RendezvousReranker, RendezvousRetriever


@pytest.mark.asyncio
async def test_concurrent_retriever_calls_overlap(routing_kb):
    meeting = Rendezvous(parties=3)
    retriever = RagPluginsRetriever(retriever=RendezvousRetriever(routing_kb.hybrid_retriever(), meeting), k=2)
    results = await asyncio.gather(*(retriever.ainvoke(q) for q in ("E4012", "E5003", "Section 7.1 notice")))
    assert [r[0].metadata["document_id"] for r in results] == ["e1", "e2", "s2"]
    assert threading.get_ident() not in meeting.threads and len(meeting.threads) == 3


@pytest.mark.asyncio
async def test_concurrent_compressor_calls_overlap(routing_kb, tiny_cross_encoder):
    meeting = Rendezvous(parties=2)
    reranker = RendezvousReranker(CrossEncoderReranker(tiny_cross_encoder, device="cpu"), meeting)
    pipeline = ContextualCompressionRetriever(
        base_compressor=RagPluginsReranker(reranker=reranker, top_n=2),
        base_retriever=RagPluginsRetriever(retriever=routing_kb.bm25_retriever(), k=5))
    first, second = await asyncio.gather(pipeline.ainvoke("Error E4012 disk quota"),
                                         pipeline.ainvoke("refunds within thirty days"))
    assert len(first) == len(second) == 2 and all("rerank" in d.metadata["scores"] for d in first + second)
    assert {"rerank", "total"} <= set(first[0].metadata["timings"])
    assert threading.get_ident() not in meeting.threads

    loose = [Document(page_content="Pears are fruit."), Document(page_content="Error E4012 is a disk error.")]
    compressor = RagPluginsReranker(reranker=RendezvousReranker(reranker.inner, Rendezvous(parties=2)), top_n=1)
    both = await asyncio.gather(compressor.acompress_documents(loose, "E4012"), compressor.acompress_documents(loose, "pear"))
    assert [len(b) for b in both] == [1, 1]


@pytest.mark.asyncio
async def test_concurrent_tool_calls_overlap(routing_kb):
    meeting = Rendezvous(parties=2)
    tool = SearchTool("search_kb", RendezvousRetriever(routing_kb.bm25_retriever(), meeting), "Search.")
    [lc_tool] = as_langchain_tools(Toolkit([tool]))
    calls = [{"name": "search_kb", "args": {"query": q}, "id": f"c{i}", "type": "tool_call"}
             for i, q in enumerate(("E4012", "E1177"))]
    replies = await asyncio.gather(*(lc_tool.ainvoke(c) for c in calls))
    assert [r.artifact[0].metadata["document_id"] for r in replies] == ["e1", "e3"]
    assert threading.get_ident() not in meeting.threads
