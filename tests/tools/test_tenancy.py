"""Agent tools under a pinned tenant filter: a model's filter can only narrow it, on every
tool (routed search, each route, multi-hop), and its operators are refused by default."""

import json

import pytest

from rag_plugins import Document, KnowledgeBase
from rag_plugins.errors import InvalidFilterError, ToolCallError
from rag_plugins.tools import SearchTool, Toolkit
from tests.tenancy_data import ATTACKS, PIN, deep_not, tenants_of

QUERY = "Alice Smith Acme Corp merger salary recall inverters"
SEARCH_TOOLS = ["search", "search_bm25", "search_dense", "search_hybrid", "search_graph", "search_graph_hybrid"]


@pytest.fixture(scope="module")
def open_toolkit(tenant_kb):
    return Toolkit.from_knowledge_base(tenant_kb, allow_filter_operators=True)


@pytest.fixture(scope="module")
def pinned_toolkit(tenant_kb):
    return Toolkit.from_knowledge_base(tenant_kb, pinned_filters=PIN, allow_filter_operators=True)


def test_every_tool_is_offered(pinned_toolkit):
    assert pinned_toolkit.names == [*SEARCH_TOOLS, "multi_hop_search"]


@pytest.mark.parametrize("attack", ATTACKS, ids=str)
def test_without_a_pin_an_operator_filter_reaches_every_tenant(open_toolkit, attack):
    """What the pin is for: the same call on an unpinned toolkit that allows operators."""
    assert "B" in tenants_of(open_toolkit.call("search_bm25", {"query": QUERY, "k": 6, "filters": attack}).hits)


@pytest.mark.parametrize("tool", SEARCH_TOOLS)
@pytest.mark.parametrize("attack", [None, *ATTACKS], ids=str)
def test_a_pinned_filter_holds_on_every_search_tool(pinned_toolkit, tool, attack):
    arguments = {"query": QUERY, "k": 6, **({"filters": attack} if attack is not None else {})}
    result = pinned_toolkit.call(tool, arguments)
    assert tenants_of(result.hits) <= {"A"}
    assert not {p["document_id"] for p in result.data["passages"]} & {"b1", "b2", "b3"}


@pytest.mark.parametrize("route", ["bm25", "dense", "hybrid", "graph", "graph+hybrid"])
def test_a_pinned_filter_holds_when_the_model_names_the_route(pinned_toolkit, route):
    attack = {"tenant": {"$ne": "A"}}
    result = pinned_toolkit.call("search", {"query": QUERY, "k": 6, "route": route, "filters": attack})
    assert result.hits == []
    assert tenants_of(pinned_toolkit.call("search", {"query": QUERY, "k": 6, "route": route}).hits) == {"A"}


def test_multi_hop_search_runs_every_search_under_the_pin(pinned_toolkit, open_toolkit):
    question = "Who leads the inverter team at the company Alice Smith joined, and what is in the merger memo?"
    assert "B" in tenants_of(open_toolkit.call("multi_hop_search", {"query": question, "k": 8}).hits)
    result = pinned_toolkit.call("multi_hop_search", {"query": question, "k": 8})
    assert result.hits and tenants_of(result.hits) == {"A"}


@pytest.mark.parametrize("attack", ATTACKS, ids=str)
def test_model_filters_with_operators_are_refused_by_default(tenant_kb, attack):
    toolkit = Toolkit.from_knowledge_base(tenant_kb, iterative=False)
    for tool in toolkit.names:
        reply = toolkit.dispatch({"name": tool, "arguments": {"query": QUERY, "filters": attack}})
        assert reply["is_error"] and "is not allowed here; send equality filters" in reply["content"]
    schema = toolkit["search_bm25"].spec.parameters["properties"]["filters"]["description"]
    assert "Equality only" in schema
    assert tenants_of(toolkit.call("search_bm25", {"query": QUERY, "filters": {"tenant": "B"}}).hits) == {"B"}


@pytest.mark.parametrize("filters", [{}, [], "", 0, False], ids=repr)
def test_empty_or_falsy_model_filters_are_refused(pinned_toolkit, filters):
    reply = pinned_toolkit.dispatch({"name": "search_bm25", "arguments": {"query": QUERY, "filters": filters}})
    assert reply["is_error"], reply["content"]
    with pytest.raises((InvalidFilterError, ToolCallError)):
        pinned_toolkit.call("search_bm25", {"query": QUERY, "filters": filters})


def test_five_thousand_nested_nots_from_a_model_are_refused(pinned_toolkit):
    as_dict = pinned_toolkit.dispatch({"name": "search", "arguments": {"query": QUERY, "filters": deep_not(5000)}})
    assert as_dict["is_error"] and "deep" in as_dict["content"]
    text = '{"query": "Acme", "filters": ' + '{"$not": ' * 5000 + '{"tenant": "A"}' + "}" * 5001
    as_json = pinned_toolkit.dispatch({"id": "c1", "function": {"name": "search", "arguments": text}})
    assert as_json["content"].startswith("Error: ") and "deep" in as_json["content"]


def test_an_unknown_field_under_a_pin_names_no_other_field(pinned_toolkit, open_toolkit):
    open_reply = open_toolkit.dispatch({"name": "search_bm25", "arguments": {"query": QUERY, "filters": {"colour": 1}}})
    assert "filterable fields are" in open_reply["content"]
    reply = pinned_toolkit.dispatch({"name": "search_bm25", "arguments": {"query": QUERY, "filters": {"colour": 1}}})
    assert reply["is_error"] and "'colour'" in reply["content"] and "tenant" not in reply["content"]


def test_route_reasons_name_only_entities_the_tenant_can_see(pinned_toolkit, open_toolkit):
    query = "How is Alice Smith Acme Corp related to Lyon?"
    assert "Alice Smith Acme Corp" in open_toolkit.call("search", {"query": query}).content.splitlines()[0]
    header = pinned_toolkit.call("search", {"query": query}).content.splitlines()[0]
    assert "Alice Smith Acme Corp" not in header and "Acme Corp" in header


def test_a_toolkit_pins_tools_built_elsewhere(tenant_kb):
    tool = SearchTool("search_bm25", tenant_kb.bm25_retriever(), "Keyword search.", allow_filter_operators=True)
    toolkit = Toolkit([tool], pinned_filters=PIN)
    assert tenants_of(toolkit.call("search_bm25", {"query": QUERY, "k": 6, "filters": {"tenant": "B"}}).hits) == set()
    assert tenants_of(tool.run({"query": QUERY, "k": 6, "filters": {"tenant": "B"}}).hits) == {"B"}  # a copy was pinned
    narrowed = Toolkit(list(toolkit), pinned_filters={"title": "Acme Corp"})
    assert [h.document_id for h in narrowed.call("search_bm25", {"query": QUERY, "k": 6}).hits] == ["a2"]
    assert json.dumps(toolkit.openai_tools())



def test_remaining_side_channel_a_field_only_another_tenant_has_is_not_unknown(tmp_path):
    """Documented in the README's Security section: one bit per guessed field name."""
    kb = KnowledgeBase.open(tmp_path, show_progress=False)
    kb.upsert([Document("a1", "Acme Corp builds inverters.", {"tenant": "A"}),
               Document("b1", "Acme Corp salaries.", {"tenant": "B", "salary_band": "L5"})])
    kb.commit()
    toolkit = Toolkit.from_knowledge_base(kb, pinned_filters=PIN)

    def reply(filters):
        return toolkit.dispatch({"name": "search_bm25", "arguments": {"query": "Acme", "filters": filters}})

    assert reply({"colour": "red"})["is_error"]
    only_b = reply({"salary_band": "L5"})
    assert not only_b["is_error"] and only_b["content"] == "No passages found in the knowledge base."
