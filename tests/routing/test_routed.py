"""RoutedRetriever: runs the decision, records it on every hit, fuses when unsure."""

from __future__ import annotations

import asyncio

import pytest

from rag_plugins.errors import InvalidInputError
from rag_plugins.routing import RouteDecision, RoutedRetriever, available_routes


class FixedRouter:
    """Always the same decision (what a router said is not under test here)."""

    name = "fixed"
    needs_embedding = False

    def __init__(self, decision: RouteDecision):
        self.decision = decision
        self.seen: list = []

    def decide(self, features, routes):
        self.seen.append((features.query, routes))
        return self.decision


def test_the_rule_router_picks_each_memory_for_its_kind_of_query(routing_kb):
    assert available_routes(routing_kb) == ("bm25", "dense", "hybrid", "graph", "graph+hybrid")
    routed = RoutedRetriever(routing_kb)
    code = routed.retrieve_routed("what does E4012 mean", k=3)
    assert code.decision.route == "bm25"
    assert code.hits[0].document_id == "e1"
    assert code.hits[0].provenance == ("bm25",)
    assert code.hits[0].evidence["route"] == code.decision.to_dict()
    assert code.hits[0].scores["routed"] == code.hits[0].score and code.hits[0].ranks["routed"] == 1
    relation = routed.retrieve_routed("How is Kiss and Tell related to the Chief of Protocol?", k=3)
    assert relation.decision.route == "graph+hybrid"
    assert {h.document_id for h in relation.hits[:3]} >= {"g1", "g2"}
    assert set(relation.timings) == {"routing", "retrieval"}


def test_an_unsure_decision_runs_the_top_two_routes_and_fuses_them(routing_kb):
    unsure = RouteDecision({"bm25": 1.0}, 0.4, ("coin flip",), "fixed", {"bm25": 0.4, "dense": 0.35, "graph": 0.25})
    routed = RoutedRetriever(routing_kb, FixedRouter(unsure), fuse_below=0.5)
    result = routed.retrieve_routed("why am I so forgetful after short nights", k=4)
    assert result.decision.routes == pytest.approx({"bm25": 0.4 / 0.75, "dense": 0.35 / 0.75})
    assert result.decision.reasons[-1] == "confidence 0.40 < 0.50 → fuse bm25 and dense"
    assert result.hits[0].document_id == "p1"
    sources = {s for h in result.hits for s in h.provenance}
    assert sources == {"bm25", "dense"}
    assert all(h.evidence["route"]["routes"] == result.decision.to_dict()["routes"] for h in result.hits)
    # the same decision above the threshold runs one route
    sure = RoutedRetriever(routing_kb, FixedRouter(unsure), fuse_below=0.3).retrieve_routed("sleep", k=4)
    assert not sure.decision.fused and {s for h in sure.hits for s in h.provenance} == {"bm25"}


def test_filters_routes_and_callbacks(routing_kb):
    seen = []
    routed = RoutedRetriever(routing_kb, routes=("bm25", "dense"), on_decision=lambda q, d: seen.append((q, d.route)))
    hits = routed.retrieve("Error codes", k=5, filters={"title": "Error E5003"})
    assert [h.document_id for h in hits] == ["e2"]
    assert seen == [("Error codes", "bm25")]  # the rules' hybrid is not offered; the first route stands in
    assert routed.routes == ("bm25", "dense")
    batch = routed.batch_retrieve(["E1177", "Section 7.1 notice"], k=1)
    assert [b[0].document_id for b in batch] == ["e3", "s2"]
    result = asyncio.run(routed.aretrieve_routed("E5003 certificate", k=1))
    assert result.hits[0].document_id == "e2"


def test_bad_configuration_is_rejected_with_what_to_do(routing_kb, graph_kb):
    with pytest.raises(InvalidInputError, match=r"routes \['dense'\] are not available: this knowledge base serves"):
        RoutedRetriever(graph_kb, routes=("bm25", "dense"))
    with pytest.raises(InvalidInputError, match="fuse_below must be in"):
        RoutedRetriever(routing_kb, fuse_below=2)
    with pytest.raises(InvalidInputError, match="unknown fusion method"):
        RoutedRetriever(routing_kb, fusion="max")
    with pytest.raises(InvalidInputError, match="clashes with a route"):
        RoutedRetriever(routing_kb, name="bm25")
    with pytest.raises(InvalidInputError, match="positive sum"):
        RouteDecision({"bm25": 0.0}, 0.5, (), "x")
    routed = RoutedRetriever(graph_kb)  # BM25 + graph only
    assert routed.routes == ("bm25", "graph")
    assert routed.retrieve_routed("How is Kiss and Tell related to Shirley Temple?", k=2).decision.route == "graph"


def test_the_query_is_embedded_once_even_when_two_routes_read_it(routing_kb, monkeypatch):
    calls = []
    original = routing_kb.embedder.embed_queries
    monkeypatch.setattr(routing_kb.embedder, "embed_queries", lambda texts: calls.append(list(texts)) or original(texts))
    unsure = RouteDecision({"dense": 1.0}, 0.1, (), "fixed", {"dense": 0.5, "hybrid": 0.5})
    RoutedRetriever(routing_kb, FixedRouter(unsure)).retrieve("a query nobody asked before", k=2)
    assert calls == [["a query nobody asked before"]]
