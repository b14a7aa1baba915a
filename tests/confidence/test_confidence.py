import json

import numpy as np
import pytest

from rag_plugins import Chunk, Hit
from rag_plugins.confidence import (
    INSUFFICIENT_EVIDENCE, AbstainingRetriever, ConfidenceEstimator, IsotonicCalibrator, PlattCalibrator,
)
from rag_plugins.confidence.calibration import calibrator_from_dict
from rag_plugins.errors import CalibrationError, InvalidInputError
from rag_plugins.eval.calibration import auroc, expected_calibration_error, risk_coverage
from tests.abstention_data import build_kb, fit_estimator


def make_hits(scores, docs=None, ranks=None):
    docs = docs or [f"d{i}" for i in range(len(scores))]
    return [Hit(Chunk(f"{d}#0", d, "text", 0), float(s), {"bm25": float(s), "dense": 0.5},
                {"bm25": i + 1, "dense": (ranks or {}).get(i, i + 1)}, ("bm25", "dense"))
            for i, (s, d) in enumerate(zip(scores, docs))]


def synthetic(n=80, seed=0):
    """Successes have a clear top score; failures a flat list."""
    rng = np.random.default_rng(seed)
    lists, labels = [], []
    for i in range(n):
        ok = i % 2 == 0
        base = np.sort(rng.normal(0, 1, 10))[::-1]
        if ok:
            base[0] += rng.uniform(1.5, 4)
        lists.append(make_hits(base))
        labels.append(int(ok))
    return lists, labels


@pytest.mark.parametrize("cls", [PlattCalibrator, IsotonicCalibrator])
def test_calibrators_round_trip_through_json(cls):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] + 0.5 * rng.normal(size=200) > 0).astype(int)
    cal = cls().fit(x, y)
    again = calibrator_from_dict(json.loads(json.dumps(cal.to_dict())))
    assert np.allclose(cal.predict(x), again.predict(x))
    p = cal.predict(x)
    assert ((0 <= p) & (p <= 1)).all() and auroc(p, y) > 0.8
    order = np.argsort(x[:, 0])
    if cls is IsotonicCalibrator:  # monotone in the underlying logistic score
        raw = cal.base.predict(x)
        assert (np.diff(cal.predict(x)[np.argsort(raw)]) >= -1e-12).all()
    assert p[order[-1]] > p[order[0]]


def test_calibration_refuses_degenerate_data():
    with pytest.raises(CalibrationError, match="at least 10"):
        PlattCalibrator().fit(np.zeros((3, 2)), [0, 1, 0])
    with pytest.raises(CalibrationError, match="all the same"):
        PlattCalibrator().fit(np.random.default_rng(0).normal(size=(20, 2)), [1] * 20)
    with pytest.raises(CalibrationError, match="NaN"):
        PlattCalibrator().fit(np.full((20, 1), np.nan), [0, 1] * 10)


def test_metrics_agree_with_scikit_learn_and_definitions():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(2)
    c = np.round(rng.uniform(size=300), 2)  # rounded, so there are ties
    y = (rng.uniform(size=300) < c).astype(int)
    assert auroc(c, y) == pytest.approx(metrics.roc_auc_score(y, c), abs=1e-12)
    assert expected_calibration_error(c, y) < 0.08  # drawn calibrated
    assert expected_calibration_error(np.full(300, 0.99), np.zeros(300)) == pytest.approx(0.99)
    table = risk_coverage(c, y)
    assert table[0]["coverage"] == 1.0 and table[0]["answered"] == 300
    assert table[-1]["risk"] < table[0]["risk"]


def test_estimator_statuses_save_and_load(tmp_path):
    lists, labels = synthetic()
    est = ConfidenceEstimator(threshold=0.5).fit(lists, labels, metadata={"top_k": 5})
    values = est.predict(lists)
    assert auroc(values, labels) > 0.9
    assert est.estimate([]).status == "no_results" and est.estimate([]).value == 0.0
    assert est.estimate(lists[0]).status == "healthy" and est.estimate(lists[1]).status == "low_confidence"
    tie = make_hits([6.0, 5.99, 0, 0, 0, 0, 0, 0, 0, 0])
    assert est.estimate(tie).value >= 0.5 and est.estimate(tie).status == "ambiguous"
    same_doc = make_hits([6.0, 5.99, 0, 0, 0, 0, 0, 0, 0, 0], docs=["a", "a"] + [f"x{i}" for i in range(8)])
    assert est.estimate(same_doc).status == "healthy"  # two chunks of one document do not compete
    path = tmp_path / "confidence.json"
    est.save(path)
    loaded = ConfidenceEstimator.load(path)
    assert np.allclose(loaded.predict(lists), values) and loaded.metadata["top_k"] == 5
    assert loaded.ambiguous_margin == est.ambiguous_margin


def test_bad_confidence_files_and_unfitted_estimators(tmp_path):
    with pytest.raises(CalibrationError, match="not fitted"):
        ConfidenceEstimator().estimate(make_hits([1, 0]))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CalibrationError, match="cannot read"):
        ConfidenceEstimator.load(bad)
    bad.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(CalibrationError, match="not a rag-plugins confidence file"):
        ConfidenceEstimator.load(bad)
    lists, labels = synthetic()
    data = ConfidenceEstimator().fit(lists, labels).to_dict()
    data["features"] = ["top_score"]
    bad.write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match="refit"):
        ConfidenceEstimator.load(bad)
    with pytest.raises(InvalidInputError):
        ConfidenceEstimator(threshold=2.0)
    with pytest.raises(InvalidInputError):
        ConfidenceEstimator(calibration="magic")


def test_abstaining_retriever_returns_the_explicit_notice(tmp_path):
    kb = build_kb(tmp_path / "kb")
    retriever = kb.bm25_retriever()
    est = fit_estimator(kb)
    guarded = AbstainingRetriever(retriever, est)
    confident = guarded.retrieve_with_confidence("how tall is the Eiffel Tower", k=10)
    assert not confident.abstained and confident.hits[0].document_id == "eiffel"
    assert confident.confidence.status in ("healthy", "ambiguous") and confident.message is None
    weak = guarded.retrieve_with_confidence("chess opening theory", k=10)
    assert weak.abstained and weak.hits == [] and weak.message == INSUFFICIENT_EVIDENCE
    assert weak.confidence.status == "low_confidence"
    assert [h.document_id for h in weak.candidates] == ["filler1"]  # the one chunk sharing a term ("chess")
    assert guarded.retrieve("chess opening theory", k=10) == []
    assert json.loads(json.dumps(weak.to_dict()))["abstained"] is True
    strict = AbstainingRetriever(retriever, est, abstain_below=1.0)
    assert strict.retrieve_with_confidence("how tall is the Eiffel Tower", k=10).abstained
