"""Tenancy through LangChain: a pinned filter on the retriever, the tools, the route tools
and the iterative runnable and tool; a filter (the caller's or the model's) only narrows it."""

import pytest
from langchain_core.messages import ToolMessage

from langchain_rag_plugins import IterativeRetrievalRunnable, RagPluginsRetriever, as_langchain_tools, iterative_tool
from langchain_rag_plugins.routing import route_tools
from rag_plugins.errors import InvalidFilterError
from rag_plugins.generation import ExtractiveBridgeGenerator
from rag_plugins.iterative import IterRetGen
from rag_plugins.routing import RoutedRetriever
from rag_plugins.tools import Toolkit
from tests.tenancy_data import ATTACKS, PIN

QUERY = "Alice Smith Acme Corp merger salary recall inverters"


def tenants(documents):
    return {d.metadata["tenant"] for d in documents}


def tool_call(tool, **args):
    return tool.invoke({"name": tool.name, "args": args, "id": "call-1", "type": "tool_call"})


@pytest.mark.parametrize("route", ["bm25", "hybrid", "graph+hybrid"])
@pytest.mark.asyncio
async def test_the_retriever_keeps_its_pin_whatever_the_call_filters(tenant_kb, route):
    open_retriever = RagPluginsRetriever(retriever=tenant_kb.retriever(route), k=6)
    assert "B" in tenants(open_retriever.invoke(QUERY, filters={"tenant": {"$ne": "A"}}))
    retriever = RagPluginsRetriever(retriever=tenant_kb.retriever(route), k=6, pinned_filters=PIN)
    assert tenants(retriever.invoke(QUERY)) == {"A"}
    for attack in ATTACKS:
        assert tenants(retriever.invoke(QUERY, filters=attack)) <= {"A"}
        assert tenants(await retriever.ainvoke(QUERY, filters=attack)) <= {"A"}
    narrowed = RagPluginsRetriever(retriever=tenant_kb.retriever(route), k=6, pinned_filters=PIN,
                                   filters={"title": "Acme Corp"})
    assert [d.metadata["document_id"] for d in narrowed.invoke(QUERY)] == ["a2"]


def test_the_retriever_refuses_empty_filters_and_bad_pins(tenant_kb):
    retriever = RagPluginsRetriever(retriever=tenant_kb.bm25_retriever(), pinned_filters=PIN)
    with pytest.raises(InvalidFilterError, match="empty mapping"):
        retriever.invoke(QUERY, filters={})
    with pytest.raises(ValueError, match="empty mapping"):
        RagPluginsRetriever(retriever=tenant_kb.bm25_retriever(), pinned_filters={})


def test_a_model_cannot_lift_the_pin_through_any_tool(tenant_kb):
    tools = as_langchain_tools(Toolkit.from_knowledge_base(tenant_kb), pinned_filters=PIN, allow_filter_operators=True)
    assert [t.name for t in tools][-1] == "multi_hop_search"
    for tool in tools:
        arguments = {"query": QUERY, "k": 6}
        attacks = ATTACKS if tool.name != "multi_hop_search" else [None]
        for attack in attacks:
            message = tool_call(tool, **arguments, **({"filters": attack} if attack else {}))
            assert isinstance(message, ToolMessage) and message.status == "success", message.content
            assert tenants(message.artifact) <= {"A"}


def test_operator_filters_from_a_model_are_refused_by_default(tenant_kb):
    tools = {t.name: t for t in as_langchain_tools(Toolkit.from_knowledge_base(tenant_kb, iterative=False))}
    message = tool_call(tools["search_bm25"], query=QUERY, filters={"tenant": {"$ne": "A"}})
    assert message.status == "error" and "'$ne' is not allowed here" in message.content
    pinned = {t.name: t for t in as_langchain_tools(Toolkit.from_knowledge_base(tenant_kb, iterative=False),
                                                    pinned_filters=PIN)}
    assert tenants(tool_call(pinned["search_bm25"], query=QUERY, k=6).artifact) == {"A"}


def test_route_tools_take_the_pin(tenant_kb):
    for tool in route_tools(RoutedRetriever(tenant_kb), k=6, pinned_filters=PIN, allow_filter_operators=True):
        assert tenants(tool_call(tool, query=QUERY, filters={"tenant": {"$exists": True}}).artifact) <= {"A"}


def test_iterative_runnable_and_tool_search_under_the_pin(tenant_kb):
    pipeline = IterRetGen(tenant_kb.hybrid_retriever(), ExtractiveBridgeGenerator(tenant_kb), iterations=2)
    question = "Who leads the inverter team at the company Alice Smith joined, and what is in the merger memo?"
    assert "B" in tenants(IterativeRetrievalRunnable(pipeline).invoke(question)["documents"])
    runnable = IterativeRetrievalRunnable(pipeline, pinned_filters=PIN)
    assert tenants(runnable.invoke({"question": question, "filters": {"tenant": {"$ne": "A"}}})["documents"]) == set()
    assert tenants(runnable.invoke(question)["documents"]) == {"A"}
    message = tool_call(iterative_tool(pipeline, pinned_filters=PIN), query=question)
    assert message.artifact and tenants(message.artifact) == {"A"}
