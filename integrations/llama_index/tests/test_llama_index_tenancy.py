"""Tenancy through LlamaIndex: a pinned filter on the retriever, the tools, the retriever
tool, the route tools and the iterative engine and tool; a filter only narrows it."""

import pytest
from llama_index.core.schema import QueryBundle

from llama_index.retrievers.rag_plugins import (
    IterativeQueryEngine,
    RagPluginsRetriever,
    as_llama_index_tools,
    iterative_tool,
    retriever_tool,
    route_tools,
)
from rag_plugins.errors import InvalidFilterError, InvalidInputError
from rag_plugins.generation import ExtractiveBridgeGenerator
from rag_plugins.iterative import IterRetGen
from rag_plugins.routing import RoutedRetriever
from rag_plugins.tools import Toolkit
from tests.tenancy_data import ATTACKS, PIN

QUERY = "Alice Smith Acme Corp merger salary recall inverters"


def tenants(nodes):
    return {n.node.metadata["tenant"] for n in nodes}


@pytest.mark.parametrize("route", ["bm25", "hybrid", "graph+hybrid"])
@pytest.mark.asyncio
async def test_the_retriever_keeps_its_pin_whatever_its_filters(tenant_kb, route):
    open_retriever = RagPluginsRetriever(tenant_kb.retriever(route), similarity_top_k=6,
                                         filters={"tenant": {"$ne": "A"}})
    assert "B" in tenants(open_retriever.retrieve(QUERY))
    for attack in ATTACKS:
        retriever = RagPluginsRetriever(tenant_kb.retriever(route), similarity_top_k=6, filters=attack,
                                        pinned_filters=PIN)
        assert tenants(retriever.retrieve(QUERY)) <= {"A"}
        assert tenants(await retriever.aretrieve(QUERY)) <= {"A"}
    assert tenants(RagPluginsRetriever(tenant_kb.retriever(route), 6, pinned_filters=PIN).retrieve(QUERY)) == {"A"}


def test_the_retriever_refuses_empty_filters_and_bad_pins(tenant_kb):
    with pytest.raises(InvalidFilterError, match="empty mapping"):
        RagPluginsRetriever(tenant_kb.bm25_retriever(), filters={}, pinned_filters=PIN).retrieve(QUERY)
    with pytest.raises(InvalidFilterError, match="must be a mapping"):
        RagPluginsRetriever(tenant_kb.bm25_retriever(), pinned_filters="")


def test_a_model_cannot_lift_the_pin_through_any_tool(tenant_kb):
    tools = as_llama_index_tools(Toolkit.from_knowledge_base(tenant_kb), pinned_filters=PIN,
                                 allow_filter_operators=True)
    assert tools[-1].metadata.name == "multi_hop_search"
    for tool in tools:
        attacks = ATTACKS if tool.metadata.name != "multi_hop_search" else [None]
        for attack in attacks:
            output = tool.call(query=QUERY, k=6, **({"filters": attack} if attack else {}))
            assert not output.is_error, output.content
            assert tenants(output.raw_output) <= {"A"}


@pytest.mark.asyncio
async def test_operator_filters_from_a_model_are_refused_by_default(tenant_kb):
    tools = {t.metadata.name: t for t in as_llama_index_tools(Toolkit.from_knowledge_base(tenant_kb, iterative=False))}
    output = await tools["search_bm25"].acall(query=QUERY, filters={"tenant": {"$ne": "A"}})
    assert output.is_error and "'$ne' is not allowed here" in output.content


def test_the_retriever_tool_and_route_tools_take_the_pin(tenant_kb):
    tool = retriever_tool(tenant_kb.hybrid_retriever(), k=6, pinned_filters=PIN)
    assert tenants(tool.call(input=QUERY).raw_output) == {"A"}
    with pytest.raises(InvalidInputError, match="pin them on the RagPluginsRetriever"):
        retriever_tool(RagPluginsRetriever(tenant_kb.bm25_retriever()), pinned_filters=PIN)
    for route in route_tools(RoutedRetriever(tenant_kb), k=6, pinned_filters=PIN, allow_filter_operators=True):
        assert tenants(route.call(query=QUERY, filters={"tenant": {"$gt": ""}}).raw_output) <= {"A"}


@pytest.mark.asyncio
async def test_iterative_engine_and_tool_search_under_the_pin(tenant_kb):
    pipeline = IterRetGen(tenant_kb.hybrid_retriever(), ExtractiveBridgeGenerator(tenant_kb), iterations=2)
    question = "Who leads the inverter team at the company Alice Smith joined, and what is in the merger memo?"
    assert "B" in tenants(IterativeQueryEngine(pipeline=pipeline).query(question).source_nodes)
    engine = IterativeQueryEngine(pipeline=pipeline, pinned_filters=PIN)
    assert tenants(engine.query(question).source_nodes) == {"A"}
    assert tenants((await engine.aquery(QueryBundle(question))).source_nodes) == {"A"}
    output = iterative_tool(pipeline, pinned_filters=PIN).call(query=question)
    assert output.raw_output and tenants(output.raw_output) == {"A"}
