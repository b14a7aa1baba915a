"""The rule router on crafted queries: which rule fires, and the reason it gives."""

from __future__ import annotations

import pytest

from rag_plugins.errors import InvalidInputError
from rag_plugins.routing import QueryAnalyzer, QueryFeatures, RuleRouter, RuleThresholds

ALL = ("bm25", "dense", "hybrid", "graph", "graph+hybrid")


@pytest.mark.parametrize("query, route, reason", [
    ('where is "disk quota exhausted" logged', "bm25", 'quoted phrase "disk quota exhausted" → bm25'),
    ("what does E4012 mean", "bm25", 'identifier "E4012" → bm25'),
    ("ERR_CONN_RESET after upgrade", "bm25", 'identifier "ERR_CONN_RESET" → bm25'),
    ("getUserById returns null", "bm25", 'identifier "getUserById" → bm25'),
    ("refund rules in § 4.2", "bm25", 'section reference "§ 4.2" → bm25'),
    ("what does Section 4.2(b) say", "bm25", 'section reference "Section 4.2(b)" → bm25'),
])
def test_exact_signals_route_to_bm25_and_say_which(query, route, reason):
    decision = RuleRouter().decide(QueryFeatures.of(query), ALL)
    assert decision.route == route
    assert decision.reasons == (reason,)
    assert decision.confidence == pytest.approx(0.9)
    assert decision.router == "rules"


def test_rare_terms_in_a_short_query_route_to_bm25():
    features = QueryFeatures.of("natriuretic peptides diabetes", idf={"natriuret": 9.1, "peptid": 6.5, "diabet": 3.0})
    decision = RuleRouter().decide(features, ALL)
    assert decision.route == "bm25"
    assert decision.reasons[0] == 'short query (3 words) with rare terms "natriuret", "peptid" → bm25'
    # one rare term is not enough by default, two are: the threshold is configurable
    strict = RuleRouter(RuleThresholds(rare_terms=3)).decide(features, ALL)
    assert strict.route == "hybrid"


def test_linked_entities_with_a_relational_cue_route_to_the_graph():
    features = QueryFeatures.of("How is Kiss and Tell related to Shirley Temple?",
                                entities=("Kiss and Tell", "Shirley Temple"))
    decision = RuleRouter().decide(features, ALL)
    assert decision.route == "graph+hybrid"
    assert decision.reasons[0] == ('2 linked entities ("Kiss and Tell", "Shirley Temple") + relational cue '
                                   '"related" → graph+hybrid')
    assert RuleRouter().decide(features, ("bm25", "graph")).route == "graph"  # without graph+hybrid
    one = QueryFeatures.of("Who is Shirley Temple?", entities=("Shirley Temple",))
    assert RuleRouter().decide(one, ALL).route == "hybrid"
    assert RuleRouter(RuleThresholds(graph_entities=1)).decide(one, ALL).route == "graph+hybrid"


def test_long_descriptive_queries_route_to_dense_and_the_rest_to_hybrid():
    long = QueryFeatures.of("why do I always feel so tired and unable to focus in the afternoon after a "
                            "big lunch at work")
    decision = RuleRouter().decide(long, ALL)
    assert (decision.route, decision.reasons[0]) == ("dense", "long descriptive query (20 words), no rare terms → dense")
    plain = RuleRouter().decide(QueryFeatures.of("benefits of exercise"), ALL)
    assert plain.route == "hybrid"
    assert plain.reasons[0] == "no decisive signal (3 words) → hybrid"
    assert plain.scores == {"hybrid": pytest.approx(0.6), "dense": pytest.approx(0.4)}


def test_a_route_the_base_does_not_serve_is_replaced_and_the_reason_says_so():
    decision = RuleRouter().decide(QueryFeatures.of("why do I always feel so tired and unable to focus in the "
                                                    "afternoon after a big lunch at work"), ("bm25",))
    assert decision.route == "bm25"
    assert decision.reasons[0].endswith("(not offered here; bm25 instead)")


def test_bad_thresholds_and_empty_routes_are_rejected():
    with pytest.raises(InvalidInputError, match="rare_terms must be an integer >= 1"):
        RuleThresholds(rare_terms=0)
    with pytest.raises(InvalidInputError, match=r"exact_confidence must be in \[0, 1\]"):
        RuleThresholds(exact_confidence=1.5)
    with pytest.raises(InvalidInputError, match="no routes"):
        RuleRouter().decide(QueryFeatures.of("x"), ())


def test_the_analyzer_reads_idf_and_linked_entities_from_the_knowledge_base(graph_kb):
    analyzer = QueryAnalyzer(graph_kb, rare_idf=0.5)
    features = analyzer.features("How is Kiss and Tell related to Shirley Temple and kumquats?")
    assert set(features.entities) == {"Kiss and Tell (1945 film)", "Shirley Temple"}
    assert features.relational_cues == ("related",)
    assert "kumquat" in features.unknown_terms
    assert "shirley" in features.rare_terms and features.question
    decision = RuleRouter().decide(features, ("bm25", "graph"))
    assert decision.route == "graph"
    assert QueryAnalyzer(graph_kb, link_entities=False).features("Kiss and Tell").entities == ()
