"""Verified write-back: a supported answer is added (marked generated, out of searches by
default, removable as a group), and a hallucinated sentence, a changed figure, a citation
that does not exist and a near-duplicate are each refused by their check, logged, with
nothing committed."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from rag_plugins import Document, KnowledgeBase
from rag_plugins.errors import InvalidInputError
from rag_plugins.ops.retrieval_log import RetrievalLog, read_write_backs
from rag_plugins.store.write_back import sentences

POLICY = [
    Document("refunds", "Refunds are accepted within 30 days of purchase. A receipt is required for every refund."),
    Document("shipping", "Orders ship within two business days. Express shipping costs 12 euros."),
    Document("warranty", "The warranty covers manufacturing defects for two years."),
]
QUESTION = "How long do refunds and shipping take?"
SUPPORTED = "Orders ship within two business days. Refunds are accepted within 30 days of purchase."
CITED = ["refunds#0", "shipping#0"]


@pytest.fixture
def kb(tmp_path, minilm_path):
    base = KnowledgeBase.open(tmp_path / "kb", embedder=minilm_path, show_progress=False)
    base.upsert(POLICY)
    base.commit()
    yield base
    base.close()


def test_a_supported_answer_is_added_marked_and_kept_out_of_searches(kb, tmp_path):
    result = kb.write_back(SUPPORTED, CITED, QUESTION, model="scripted-llm", batch="week-49")
    assert result.accepted and [c.name for c in result.checks] == ["citations", "attribution", "novelty"]
    assert result.generation == 2 and result.document_id.startswith("generated/")
    meta = kb.get(result.document_id).metadata
    assert meta["generated"] is True and meta["question"] == QUESTION and meta["citations"] == CITED
    assert meta["model"] == "scripted-llm" and meta["write_back_batch"] == "week-49" and meta["written_at"] > 0
    for retriever in (kb.bm25_retriever(), kb.dense_retriever(), kb.hybrid_retriever()):
        assert all(not h.document_id.startswith("generated/") for h in retriever.retrieve("refund receipt days", k=10))
    asked = kb.bm25_retriever().retrieve("refund receipt days", k=10, filters={"generated": True})
    assert [h.document_id for h in asked] == [result.document_id]
    with KnowledgeBase.open(kb.path, read_only=True, include_generated=True) as reader:
        assert result.document_id in {h.document_id for h in reader.hybrid_retriever().retrieve("refund days", k=10)}
    assert kb.remove_generated("another-batch") == []
    assert kb.remove_generated("week-49") == [result.document_id] and result.document_id not in kb


def test_a_hallucinated_sentence_is_refused_and_logged(kb, caplog):
    answer = SUPPORTED + " Refunds are paid in gold coins by the store manager."
    log = RetrievalLog(kb.path)
    with caplog.at_level(logging.WARNING, logger="rag_plugins.store"):
        result = kb.write_back(answer, CITED, QUESTION, log=log)
    log.close()
    assert not result.accepted and result.failed.name == "attribution"
    assert result.unsupported == ("Refunds are paid in gold coins by the store manager.",)
    assert kb.generation == 1 and len(kb) == 3  # nothing committed
    assert "refused by the attribution check" in caplog.text
    assert read_write_backs(kb.path)[-1] == {**read_write_backs(kb.path)[-1], "accepted": False,
                                              "failed_check": "attribution", "question": QUESTION}


def test_a_changed_figure_and_an_uncited_fact_are_refused(kb):
    changed = kb.write_back("Refunds are accepted within 90 days of purchase.", ["refunds#0"], QUESTION)
    assert changed.failed.name == "attribution"
    wrong_source = kb.write_back("Express shipping costs 12 euros.", ["refunds#0"], "How much is express shipping?")
    assert wrong_source.failed.name == "attribution"
    right_source = kb.write_back("Express shipping costs 12 euros, and orders ship within two business days.",
                                 ["shipping#0"], "How much is express shipping?")
    assert right_source.accepted


def test_a_citation_must_exist_in_the_current_generation(kb):
    kb.delete(["warranty"])
    kb.commit()
    result = kb.write_back("The warranty covers manufacturing defects for two years.", ["warranty#0"],
                           "How long is the warranty?")
    assert result.failed.name == "citations" and "warranty#0" in result.failed.detail
    with pytest.raises(InvalidInputError, match="needs citations"):
        kb.write_back(SUPPORTED, [], QUESTION)  # nothing cited


def test_a_near_duplicate_is_refused(kb):
    copy = kb.write_back(POLICY[2].text, ["warranty#0"], "How long is the warranty?")
    assert copy.failed.name == "novelty" and "warranty#0" in copy.failed.detail
    first = kb.write_back(SUPPORTED, CITED, QUESTION)
    again = kb.write_back(SUPPORTED.replace("Orders ship", "Every order ships"), CITED, QUESTION + " (again)")
    assert first.accepted and again.failed is not None, again.checks
    assert again.failed.name == "novelty" and first.document_id in again.failed.detail


class ScriptedNLI:
    """Stands in for an NLI model (none can be downloaded here): entailment probability 0.9
    for the pairs it was told are supported, 0.1 for the others."""

    probabilities = True

    def __init__(self, supported):
        self.supported = supported
        self.seen = []

    def score_pairs(self, pairs):
        self.seen.extend(pairs)
        return np.array([0.9 if hypothesis in self.supported else 0.1 for _, hypothesis in pairs])


def test_a_verifier_decides_attribution_when_given(kb, tmp_path, minilm_path):
    claim = "A refund needs proof of purchase."  # a paraphrase the lexical check would refuse
    assert kb.write_back(claim, ["refunds#0"], QUESTION).failed.name == "attribution"
    verifier = ScriptedNLI({claim})
    result = kb.write_back(claim, ["refunds#0"], QUESTION, verifier=verifier)
    assert result.accepted and verifier.seen == [(POLICY[0].text, claim)]
    from rag_plugins.rerank.cross_encoder import CrossEncoderReranker
    from conftest import build_tiny_cross_encoder

    real = CrossEncoderReranker(build_tiny_cross_encoder(tmp_path / "ce", minilm_path), device="cpu")
    logits = real.score_pairs([(POLICY[1].text, "Orders ship fast.")])
    verdict = kb.write_back("Orders ship fast.", ["shipping#0"], "How fast?", verifier=real, min_support=0.5)
    assert verdict.accepted == bool(1 / (1 + np.exp(-logits[0])) >= 0.5)  # the model's own call, through the real code


def test_sentences_split_where_a_reader_would():
    assert sentences("It costs 12.5 euros. Dr. Smith agrees, e.g. Fig. 2 shows it! Does it ship? 3 days.") == [
        "It costs 12.5 euros.", "Dr. Smith agrees, e.g. Fig. 2 shows it!", "Does it ship?", "3 days."]
