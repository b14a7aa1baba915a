import json

import numpy as np
import pytest

from rag_plugins import Chunk, Document, Hit, KnowledgeBase
from rag_plugins.errors import InvalidInputError
from rag_plugins.rerank import CrossEncoderReranker
from rag_plugins.rerank.training import (
    TRAINING_RECORD, RerankerTrainingConfig, TrainingGroup, mine_training_groups, train_reranker,
)

DOCS = {
    "aspirin": "Aspirin reduces the risk of heart attack by inhibiting platelets.",
    "statins": "Statins lower LDL cholesterol and reduce heart attack risk.",
    "malaria": "Malaria is transmitted by mosquitoes carrying Plasmodium parasites.",
    "insulin": "Insulin regulates blood glucose in diabetes.",
    "vaccine": "Vaccines train the immune system against heart infections and viruses.",
    "bread": "Sourdough bread needs flour, water, salt and a starter.",
}
# each query shares a term with a document that is not relevant: BM25 mines negatives only among its hits
QUERIES = {"q1": "aspirin heart attack", "q2": "mosquito parasite infections", "q3": "diabetes blood glucose and salt"}
QRELS = {"q1": {"aspirin": 1}, "q2": {"malaria": 1}, "q3": {"insulin": 1}}


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    base = KnowledgeBase.open(tmp_path_factory.mktemp("kb"))
    base.upsert([Document(i, t, {"title": i.title()}) for i, t in DOCS.items()])
    base.commit()
    return base


def test_mining_takes_negatives_from_the_retriever_and_never_a_judged_document(kb):
    groups = mine_training_groups(kb, kb.bm25_retriever(), QUERIES, QRELS, negatives=2, depth=6, seed=1)
    assert len(groups) == 3
    by_query = {g.query: g for g in groups}
    aspirin = by_query["aspirin heart attack"]
    assert aspirin.positive == "Aspirin\n" + DOCS["aspirin"]
    assert len(aspirin.negatives) == 2 and DOCS["aspirin"] not in " ".join(aspirin.negatives)
    # hard: the lexical near-misses about heart attacks are among the negatives
    assert any("Statins" in n for n in aspirin.negatives)
    assert mine_training_groups(kb, kb.bm25_retriever(), QUERIES, QRELS, negatives=2, depth=6, seed=1) == groups


def test_a_relevant_document_the_retriever_missed_is_still_a_positive(kb):
    groups = mine_training_groups(kb, kb.bm25_retriever(), {"q": "sourdough"}, {"q": {"insulin": 1}},
                                  negatives=2, depth=2)
    assert groups[0].positive.endswith(DOCS["insulin"])
    with pytest.raises(InvalidInputError):
        mine_training_groups(kb, kb.bm25_retriever(), QUERIES, {"q1": {"aspirin": 0}})


def learnable_groups():
    positives = {"capital of France": "Paris is the capital of France.",
                 "yellow fruit": "Bananas are a yellow fruit.",
                 "barking pet": "Dogs bark at strangers."}
    texts = list(positives.values())
    return [TrainingGroup(q, p, tuple(t for t in texts if t != p)) for q, p in positives.items()] * 4


def test_training_learns_saves_safetensors_without_pickle_and_loads_back(tiny_cross_encoder, tmp_path):
    config = RerankerTrainingConfig(epochs=12, groups_per_step=2, learning_rate=3e-3, head_learning_rate=3e-3,
                                    warmup_ratio=0.0, max_length=32, seed=7)
    out = tmp_path / "model"
    report = train_reranker(learnable_groups(), tiny_cross_encoder, out, config, device="cpu",
                            data={"dataset": "toy"})
    assert report.steps == 72 and len(report.epoch_losses) == 12
    assert report.epoch_losses[-1] < 0.5 * report.epoch_losses[0]
    files = {p.name for p in out.rglob("*")}
    assert "model.safetensors" in files and "config.json" in files and TRAINING_RECORD in files
    assert not {f for f in files if f.endswith((".bin", ".pt", ".pth", ".pkl", ".pickle"))}
    record = json.loads((out / TRAINING_RECORD).read_text())
    assert record["config"]["seed"] == 7 and record["data"] == {"dataset": "toy"}
    reranker = CrossEncoderReranker(str(out), device="cpu")
    hits = [Hit(Chunk(f"{i}#0", str(i), t, 0), 0.0) for i, t in
            enumerate(["Bananas are a yellow fruit.", "Dogs bark at strangers.", "Paris is the capital of France."])]
    assert reranker.rerank("capital of France", hits)[0].chunk.text == "Paris is the capital of France."

    again = tmp_path / "again"
    train_reranker(learnable_groups(), tiny_cross_encoder, again, config, device="cpu", data={"dataset": "toy"})
    same = CrossEncoderReranker(str(again), device="cpu").rerank("capital of France", hits)
    assert np.allclose([h.score for h in same], [h.score for h in reranker.rerank("capital of France", hits)])


def test_training_refuses_a_non_empty_output_and_bad_settings(tiny_cross_encoder, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    with pytest.raises(InvalidInputError, match="not empty"):
        train_reranker(learnable_groups(), tiny_cross_encoder, tmp_path / "busy", RerankerTrainingConfig())
    assert (tmp_path / "busy" / "keep.txt").read_text() == "mine"
    with pytest.raises(InvalidInputError):
        RerankerTrainingConfig(epochs=0)
    with pytest.raises(InvalidInputError):
        train_reranker([], tiny_cross_encoder, tmp_path / "empty")


def test_mining_that_finds_no_negative_says_why_and_what_to_do(kb):
    """A query whose only lexical match is its relevant document gives BM25 no negative."""
    with pytest.raises(InvalidInputError, match=r"1 of 1 queries had no unjudged hit.*raise the mining depth"):
        mine_training_groups(kb, kb.bm25_retriever(), {"q": "sourdough"}, {"q": {"bread": 1}}, negatives=2, depth=6)
    with pytest.raises(InvalidInputError, match=r"1 relevant documents are not in the knowledge base"):
        mine_training_groups(kb, kb.bm25_retriever(), {"q": "aspirin"}, {"q": {"gone": 1}}, negatives=2, depth=6)
