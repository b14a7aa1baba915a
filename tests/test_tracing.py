"""Every search is one structured log record: route decision, per-source and rerank
scores, confidence and timings, on the ``rag_plugins.retrieval`` logger."""

import json
import logging

import pytest

from rag_plugins.confidence import AbstainingRetriever, AbstentionPolicy
from rag_plugins.rerank import CrossEncoderReranker, RerankedRetriever
from rag_plugins.routing import RoutedRetriever
from rag_plugins.tracing import traced_rerank, traced_search


def search_records(caplog):
    return [r.rag_plugins for r in caplog.records if r.name == "rag_plugins.retrieval"]


def test_a_routed_reranked_judged_search_logs_one_complete_record(routing_kb, tiny_cross_encoder,
                                                                 abstention_estimator, caplog):
    pipeline = AbstainingRetriever(RerankedRetriever(RoutedRetriever(routing_kb),
                                                     CrossEncoderReranker(tiny_cross_encoder, device="cpu"), depth=5),
                                   abstention_estimator, abstain_below=0.0)
    with caplog.at_level(logging.INFO, logger="rag_plugins.retrieval"):
        search = traced_search(pipeline, "what does Error E4012 mean", k=2)  # three chunks say "error"
    [record] = search_records(caplog)
    json.dumps(record)  # JSON-ready for any log shipper
    assert record == {"event": "search", **search.to_dict()}
    assert record["route"]["routes"] == {"bm25": 1.0} and record["route"]["reasons"] == ['identifier "E4012" → bm25']
    assert record["confidence"]["status"] in {"healthy", "ambiguous", "low_confidence"}
    assert 0.0 <= record["confidence"]["confidence"] <= 1.0 and record["abstained"] is False
    assert {"bm25", "routed", "rerank"} <= set(record["hits"][0]["scores"]) and len(record["hits"]) == 2
    assert record["timings"]["total"] >= record["timings"]["retrieval"] > 0
    message = caplog.records[-1].getMessage()
    assert message.startswith("search retriever=") and "route={'bm25': 1.0}" in message


def test_stages_are_timed_and_abstention_is_logged(routing_kb, tiny_cross_encoder, abstention_estimator, caplog):
    reranker = CrossEncoderReranker(tiny_cross_encoder, device="cpu")
    with caplog.at_level(logging.INFO, logger="rag_plugins.retrieval"):
        staged = traced_search(routing_kb.hybrid_retriever(), "refunds", k=2, reranker=reranker, depth=6,
                               policy=AbstentionPolicy(abstention_estimator, abstain_below=1.01))
        reranked = traced_rerank("refunds", staged.candidates, reranker, top_n=1)
    assert len(staged.candidates) == 6 and staged.hits == [] and staged.abstained
    assert {"retrieval", "rerank", "confidence", "total"} == set(staged.timings)
    first, second = search_records(caplog)
    assert first["abstained"] is True and first["hits"] == []
    assert second["retriever"] == "input" and set(second["timings"]) == {"rerank", "total"}
    assert len(reranked.hits) == 1 and "rerank" in reranked.hits[0].scores


def test_nothing_is_logged_or_formatted_when_info_is_off(routing_kb, caplog):
    with caplog.at_level(logging.WARNING, logger="rag_plugins.retrieval"):
        traced_search(routing_kb.bm25_retriever(), "pears", k=1)
    assert search_records(caplog) == []


def test_bad_input_is_refused_before_searching(routing_kb):
    with pytest.raises(ValueError, match="query is empty"):
        traced_search(routing_kb.bm25_retriever(), "  ", k=1)
    with pytest.raises(ValueError, match="k must be greater than 0"):
        traced_search(routing_kb.bm25_retriever(), "pears", k=0)
