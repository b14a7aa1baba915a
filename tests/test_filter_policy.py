"""FilterPolicy: a pinned filter the caller can only narrow."""

import pytest

from rag_plugins import FilterPolicy
from rag_plugins.errors import InvalidFilterError, UnknownFilterFieldError
from rag_plugins.filter_policy import narrow
from tests.tenancy_data import ATTACKS, PIN, deep_not, tenants_of


@pytest.mark.parametrize("attack", ATTACKS, ids=str)
def test_a_caller_filter_only_narrows_the_pinned_one(tenant_kb, attack):
    bm25 = tenant_kb.retriever("bm25")
    assert "B" in tenants_of(bm25.retrieve("Acme Corp merger salary recall", k=6, filters=attack))
    pinned = FilterPolicy(PIN, allow_operators=True).apply(attack)
    assert tenants_of(bm25.retrieve("Acme Corp merger salary recall", k=6, filters=pinned)) <= {"A"}


def test_operators_are_refused_unless_allowed():
    with pytest.raises(InvalidFilterError, match="'\\$ne' is not allowed"):
        FilterPolicy(PIN).apply({"tenant": {"$ne": "A"}})
    assert FilterPolicy(PIN).apply({"title": "Acme Corp"}) == {"$and": [PIN, {"title": "Acme Corp"}]}
    assert FilterPolicy().apply(None) is None


@pytest.mark.parametrize("caller", [[], "", 0, {}, deep_not(5000)], ids=["list", "str", "zero", "dict", "deep"])
def test_falsy_or_deep_caller_filters_are_errors(caller):
    with pytest.raises(InvalidFilterError):
        FilterPolicy(PIN, allow_operators=True).apply(caller)


@pytest.mark.parametrize("pinned", [[], "", {}, deep_not(40), {"tenant": object()}],
                         ids=["list", "str", "dict", "deep", "not-json"])
def test_a_bad_pinned_filter_is_refused_when_the_policy_is_made(pinned):
    with pytest.raises(InvalidFilterError):
        FilterPolicy(pinned)


def test_the_pinned_filter_is_a_copy():
    pin = {"tenant": "A"}
    policy = FilterPolicy(pin)
    pin["tenant"] = "B"
    assert policy.apply(None) == {"tenant": "A"}


def test_restricting_pins_both_and_keeps_or_replaces_the_operator_rule():
    policy = FilterPolicy(PIN).restricted({"region": "eu"}, allow_operators=True)
    assert policy.pinned == narrow(PIN, {"region": "eu"}) and policy.allow_operators
    assert FilterPolicy(None, allow_operators=True).restricted().allow_operators


def test_an_unknown_field_under_a_pin_does_not_list_every_tenants_fields():
    error = UnknownFilterFieldError("no chunk has 'colour'; filterable fields are: salary_band, tenant", "colour")
    assert FilterPolicy().redact(error) is error
    redacted = FilterPolicy(PIN).redact(error)
    assert "colour" in str(redacted) and "salary_band" not in str(redacted) and redacted.field == "colour"
