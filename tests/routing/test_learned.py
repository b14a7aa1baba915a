"""Training the learned router on small labeled sets, and storing it without pickle."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rag_plugins.errors import InvalidInputError
from rag_plugins.eval.beir import load_beir
from rag_plugins.routing import LearnedRouter, QueryFeatures, RoutedRetriever, fit_router, oracle_labels, train_router
from tests.beir_data import write_beir
from tests.routing.routing_data import CORPUS, QUERIES

ROUTES = ("bm25", "dense", "hybrid")
CODES = ["E4012 quota", "what is ERR_DISK_FULL", "KB5031455 install fails", "code 0x80070005", "fix E1177",
         "HTTP 503 from ALB-2", "ORA-00942 table missing", "SIGSEGV in libfoo.so", "E5003 expired", "CVE-2024-3094"]
PROSE = ["why do I feel tired after lunch", "how can I sleep better at night", "ways to calm down before a talk",
         "what helps a sore back after sitting all day", "is walking good for the heart", "how to focus when tired",
         "why does my head hurt in the evening", "tips for staying warm in winter", "how do plants drink water",
         "what makes bread rise in the oven"]


def labeled(queries: list[str], best: str) -> tuple[list[QueryFeatures], np.ndarray]:
    scores = np.full((len(queries), len(ROUTES)), 0.3)
    scores[:, ROUTES.index(best)] = 1.0
    scores[:, ROUTES.index("hybrid")] = 0.6
    return [QueryFeatures.of(q) for q in queries], scores


def test_oracle_labels_break_ties_towards_the_cheaper_route():
    assert oracle_labels(np.array([[1.0, 1.0, 0.0], [0.2, 0.9, 0.9], [0.0, 0.0, 0.0]])).tolist() == [0, 1, 0]


def test_a_router_trained_on_rule_features_learns_which_route_serves_which_queries(tmp_path):
    f_codes, s_codes = labeled(CODES[:8], "bm25")
    f_prose, s_prose = labeled(PROSE[:8], "dense")
    router = fit_router(f_codes + f_prose, np.vstack([s_codes, s_prose]), ROUTES, use_embedding=False)
    assert router.metadata["informative_queries"] == 16
    assert router.metadata["oracle_labels"] == {"bm25": 8, "dense": 8, "hybrid": 0}
    for query in CODES[8:]:
        decision = router.decide(QueryFeatures.of(query), ROUTES)
        assert decision.route == "bm25", (query, decision)
        assert decision.scores["hybrid"] < 0.01  # never the best on training queries: never chosen
    for query in PROSE[8:]:
        assert router.decide(QueryFeatures.of(query), ROUTES).route == "dense", query
    decision = router.decide(QueryFeatures.of("E4012"), ROUTES)
    assert decision.reasons[0].startswith("learned: p(bm25)=")
    assert "identifiers=1" in decision.reasons[1]
    assert sum(decision.scores.values()) == pytest.approx(1.0)
    # offered routes only: probabilities renormalised over what the base serves
    assert router.decide(QueryFeatures.of("E4012"), ("dense", "hybrid")).route in ("dense", "hybrid")

    saved = router.save(tmp_path / "router")
    assert sorted(p.name for p in saved.iterdir()) == ["router.json", "weights.npy"]
    np.load(saved / "weights.npy", allow_pickle=False)  # plain array, no pickle
    loaded = LearnedRouter.load(saved)
    for query in CODES + PROSE:
        f = QueryFeatures.of(query)
        assert loaded.probabilities(f) == pytest.approx(router.probabilities(f))


def test_a_learned_router_reads_the_query_embedding_when_trained_with_it():
    rng = np.random.default_rng(0)
    features, scores = [], []
    for i in range(40):
        side = i % 2
        vector = rng.normal(size=8) + (3.0 if side else -3.0)
        features.append(QueryFeatures.of(f"query {i}").with_embedding(vector))
        scores.append([1.0, 0.0, 0.5] if side else [0.0, 1.0, 0.5])
    router = fit_router(features, np.array(scores), ROUTES)
    assert router.needs_embedding
    probe = QueryFeatures.of("new").with_embedding(np.full(8, 3.0))
    assert router.decide(probe, ROUTES).route == "bm25"
    with pytest.raises(InvalidInputError, match="reads the query embedding"):
        router.probabilities(QueryFeatures.of("no embedding"))
    with pytest.raises(InvalidInputError, match="expects 21 features but got 17"):
        router.probabilities(QueryFeatures.of("short").with_embedding(np.zeros(4)))


def test_training_refuses_data_that_cannot_teach_and_loading_refuses_damaged_files(tmp_path):
    features = [QueryFeatures.of(q) for q in CODES]
    with pytest.raises(InvalidInputError, match="only 0 queries tell routes apart"):
        fit_router(features, np.ones((10, 3)), ROUTES, use_embedding=False)
    with pytest.raises(InvalidInputError, match="scores must be queries × routes"):
        fit_router(features, np.ones((3, 3)), ROUTES, use_embedding=False)
    with pytest.raises(InvalidInputError, match="holds no learned router"):
        LearnedRouter.load(tmp_path)
    f_codes, s_codes = labeled(CODES, "bm25")
    f_prose, s_prose = labeled(PROSE, "dense")
    router = fit_router(f_codes + f_prose, np.vstack([s_codes, s_prose]), ROUTES, use_embedding=False)
    directory = router.save(tmp_path / "r")
    config = json.loads((directory / "router.json").read_text())
    (directory / "router.json").write_text(json.dumps({**config, "feature_names": ["words"]}))
    with pytest.raises(InvalidInputError, match="trained on other rule features"):
        LearnedRouter.load(directory)
    (directory / "router.json").write_text("{not json")
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        LearnedRouter.load(directory)


def test_train_router_labels_queries_by_running_every_route(routing_kb, tmp_path):
    dataset = load_beir(write_beir(tmp_path / "ds", CORPUS, QUERIES, split="train"), "train")
    router = train_router(routing_kb, dataset, show_progress=False)
    assert router.routes == ("bm25", "dense", "hybrid", "graph", "graph+hybrid")
    meta = router.metadata
    assert meta["queries"] == 10
    # paraphrases defeat BM25 (q6, q8); the graph alone misses the error codes
    assert meta["route_mean_score"]["dense"] > meta["route_mean_score"]["bm25"]
    assert meta["route_mean_score"]["graph"] < meta["route_mean_score"]["hybrid"]
    assert meta["oracle_mean_score"] >= max(meta["route_mean_score"].values())
    assert router.embedding["dimension"] == 384
    routed = RoutedRetriever(routing_kb, router)
    result = routed.retrieve_routed("why am I so forgetful after short nights", k=2)
    assert result.decision.router == "learned" and result.hits[0].document_id == "p1"


def test_train_router_chooses_its_fuse_below_and_routed_search_uses_it(routing_kb, tmp_path):
    from rag_plugins.routing.training import FUSE_GRID

    dataset = load_beir(write_beir(tmp_path / "ds", CORPUS, QUERIES, split="train"), "train")
    router = train_router(routing_kb, dataset, show_progress=False)
    table = router.metadata["fuse_below_mean_score"]
    assert router.fuse_below in FUSE_GRID and set(table) == {str(t) for t in FUSE_GRID}
    assert table[str(router.fuse_below)] == max(table.values())
    loaded = LearnedRouter.load(router.save(tmp_path / "router"))
    assert loaded.fuse_below == router.fuse_below
    assert RoutedRetriever(routing_kb, loaded).fuse_below == router.fuse_below
    assert RoutedRetriever(routing_kb).fuse_below == 0.0              # the rule router's, chosen on mixed train
    assert RoutedRetriever(routing_kb, loaded, fuse_below=0.7).fuse_below == 0.7
