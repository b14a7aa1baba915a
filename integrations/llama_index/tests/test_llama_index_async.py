"""Concurrent async calls overlap: ``aretrieve``, ``aquery`` and tool ``acall`` run their
CPU work off the event loop (see tests/concurrency.py)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from llama_index.core import get_response_synthesizer
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine

from llama_index.retrievers.rag_plugins import RagPluginsRetriever, as_llama_index_tools
from rag_plugins.tools import SearchTool, Toolkit
from tests.concurrency import Rendezvous, RendezvousRetriever


@pytest.mark.asyncio
async def test_concurrent_retrievals_and_queries_overlap(routing_kb):
    meeting = Rendezvous(parties=3)
    retriever = RagPluginsRetriever(RendezvousRetriever(routing_kb.hybrid_retriever(), meeting), similarity_top_k=2)
    results = await asyncio.gather(*(retriever.aretrieve(q) for q in ("E4012", "E5003", "Section 7.1 notice")))
    assert [r[0].node.metadata["document_id"] for r in results] == ["e1", "e2", "s2"]
    assert threading.get_ident() not in meeting.threads and len(meeting.threads) == 3

    engine = RetrieverQueryEngine(retriever=RagPluginsRetriever(
        RendezvousRetriever(routing_kb.bm25_retriever(), Rendezvous(parties=2)), similarity_top_k=1),
        response_synthesizer=get_response_synthesizer(llm=MockLLM()))
    answers = await asyncio.gather(engine.aquery("E4012"), engine.aquery("E1177"))
    assert [a.source_nodes[0].node.metadata["document_id"] for a in answers] == ["e1", "e3"]


@pytest.mark.asyncio
async def test_concurrent_tool_calls_overlap(routing_kb):
    meeting = Rendezvous(parties=2)
    [tool] = as_llama_index_tools(Toolkit([SearchTool("search_kb", RendezvousRetriever(routing_kb.bm25_retriever(),
                                                                                       meeting), "Search.")]))
    outputs = await asyncio.gather(tool.acall(query="E4012"), tool.acall(query="E1177"))
    assert [o.raw_output[0].node.metadata["document_id"] for o in outputs] == ["e1", "e3"]
    assert threading.get_ident() not in meeting.threads
