import math

import pytest

from rag_plugins.eval.metrics import evaluate, map_at_k, mrr_at_k, ndcg_at_k, recall_all_at_k, recall_at_k

RANKED = ["a", "x", "b", "y", "c"]
JUDGED = {"a": 1, "b": 1, "c": 1, "d": 1}


def test_ndcg_by_hand():
    dcg = 1 + 1 / math.log2(4) + 1 / math.log2(6)
    idcg = sum(1 / math.log2(i + 2) for i in range(4))
    assert ndcg_at_k(RANKED, JUDGED, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(RANKED, {"a": 2, "b": 1}, 1) == pytest.approx(1.0)


def test_recall_recall_all_mrr_map():
    assert recall_at_k(RANKED, JUDGED, 3) == pytest.approx(2 / 4)
    assert recall_all_at_k(RANKED, {"a": 1, "b": 1}, 3) == 1.0
    assert recall_all_at_k(RANKED, {"a": 1, "b": 1}, 2) == 0.0
    assert mrr_at_k(["x", "a"], JUDGED, 10) == 0.5 and mrr_at_k(["x", "a"], JUDGED, 1) == 0.0
    assert map_at_k(RANKED, JUDGED, 5) == pytest.approx((1 + 2 / 3 + 3 / 5) / 4)


def test_evaluate_averages_and_counts_missing_queries_as_zero():
    out = evaluate({"q1": ["a"]}, {"q1": {"a": 1}, "q2": {"b": 1}}, cutoffs=(1,))
    assert out["ndcg@1"] == 0.5 and out["recall_all@1"] == 0.5
