"""Metadata filters: None is the only "no filter", nesting is bounded with a typed error,
and operators can be switched off for filters a model wrote."""

import pytest

from rag_plugins.errors import InvalidFilterError
from rag_plugins.filters import MAX_FILTER_DEPTH, MetadataIndex, check_filters
from rag_plugins.tracing import traced_search
from tests.tenancy_data import ATTACKS, deep_not, tenants_of

ROUTES = ["bm25", "dense", "hybrid", "graph", "graph+hybrid"]
FALSY = [[], "", 0, {}, False, (), 0.0]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("filters", FALSY, ids=repr)
def test_empty_or_falsy_filters_are_an_error_not_no_filter(tenant_kb, route, filters):
    retriever = tenant_kb.retriever(route)
    with pytest.raises(InvalidFilterError, match="pass None|omit filters"):
        retriever.retrieve("Acme Corp inverters", k=3, filters=filters)
    with pytest.raises(InvalidFilterError):
        traced_search(retriever, "Acme Corp inverters", 3, filters)


def test_none_still_means_every_chunk(tenant_kb):
    assert tenants_of(tenant_kb.retriever("bm25").retrieve("Acme Corp", k=6, filters=None)) == {"A", "B"}


@pytest.mark.parametrize("route", ROUTES)
def test_five_thousand_nested_nots_are_a_typed_error(tenant_kb, route):
    with pytest.raises(InvalidFilterError, match=f"more than {MAX_FILTER_DEPTH} deep"):
        tenant_kb.retriever(route).retrieve("Acme Corp", k=3, filters=deep_not(5000))


def test_nesting_is_checked_without_recursion_and_allowed_up_to_the_limit():
    index = MetadataIndex([{"tenant": "A"}, {"tenant": "B"}])
    with pytest.raises(InvalidFilterError):
        index.mask(deep_not(100_000))
    deep_value: list = ["A"]
    for _ in range(100_000):
        deep_value = [deep_value]
    with pytest.raises(InvalidFilterError, match="deep"):
        check_filters({"tenant": deep_value})
    assert index.mask(deep_not(MAX_FILTER_DEPTH - 1)).tolist() == [False, True]  # 32 dicts: 31 nots, then the test
    with pytest.raises(InvalidFilterError):
        index.mask(deep_not(MAX_FILTER_DEPTH))


@pytest.mark.parametrize("filters", ATTACKS, ids=str)
def test_operators_can_be_refused(filters):
    assert check_filters(filters) is filters
    with pytest.raises(InvalidFilterError, match="not allowed here; send equality filters"):
        check_filters(filters, operators=False)


def test_equality_filters_pass_without_operators():
    filters = {"tenant": "A", "tags": ["x", "y"], "meta": {"kind": "memo"}}
    assert check_filters(filters, operators=False) is filters


@pytest.mark.parametrize("filters, message", [
    ({"$and": []}, "non-empty list"),
    ({"$or": {"tenant": "A"}}, "non-empty list"),
    ({"$and": [{}]}, "empty mapping"),
    ({"$not": "A"}, "must be a mapping"),
    ({1: "A"}, "field names are strings"),
])
def test_malformed_filters_say_what_to_send(filters, message):
    with pytest.raises(InvalidFilterError, match=message):
        check_filters(filters)
