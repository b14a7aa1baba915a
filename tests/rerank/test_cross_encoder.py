import asyncio
import copy
import json

import numpy as np
import pytest
import torch
from sentence_transformers import CrossEncoder

from rag_plugins import Chunk, Document, Hit, KnowledgeBase
from rag_plugins.errors import InvalidInputError, InvalidQueryError, ModelLoadError
from rag_plugins.protocols import Retriever
from rag_plugins.rerank import CrossEncoderReranker, RerankedRetriever


def hits_for(texts):
    return [Hit(Chunk(f"d{i}#0", f"d{i}", t, 0, {"title": f"T{i}"}), 10.0 - i, {"bm25": 10.0 - i},
                {"bm25": i + 1}, ("bm25",)) for i, t in enumerate(texts)]


TEXTS = ["Paris is the capital of France.", "Bananas are yellow and rich in potassium.",
         "The Eiffel Tower is in Paris, built for the 1889 World's Fair in France.", "Dogs bark."]


@pytest.fixture(scope="module")
def reranker(tiny_cross_encoder):
    r = CrossEncoderReranker(tiny_cross_encoder, device="cpu", batch_size=2)
    r.warm_up()
    return r


def test_scores_are_the_cross_encoders_logits_and_order_follows_them(reranker, tiny_cross_encoder):
    hits = hits_for(TEXTS)
    before = copy.deepcopy(hits)
    out = reranker.rerank("capital of France", hits)
    assert hits == before  # the input is never mutated
    direct = CrossEncoder(tiny_cross_encoder, device="cpu", activation_fn=torch.nn.Identity()).predict(
        [("capital of France", h.chunk.contextual_text) for h in hits])
    by_id = {h.chunk.id: h for h in out}
    for h, expected in zip(hits, direct):
        assert by_id[h.chunk.id].score == pytest.approx(float(expected), abs=1e-5)
    assert [h.score for h in out] == sorted((h.score for h in out), reverse=True)
    assert [h.ranks["rerank"] for h in out] == [1, 2, 3, 4]
    for h in out:  # earlier scores and ranks are kept, the rerank score added
        original = next(o for o in hits if o.chunk.id == h.chunk.id)
        assert h.scores["bm25"] == original.scores["bm25"] and h.ranks["bm25"] == original.ranks["bm25"]
        assert h.scores["rerank"] == h.score and h.provenance == ("bm25",)


def test_top_n_and_batch_rerank_match_single_queries(reranker):
    hits = hits_for(TEXTS)
    assert len(reranker.rerank("capital of France", hits, top_n=2)) == 2
    queries = ["capital of France", "yellow fruit"]
    pooled = reranker.batch_rerank(queries, [hits, hits[:3]])
    for q, hs, got in zip(queries, [hits, hits[:3]], pooled):
        single = reranker.rerank(q, hs)
        assert [h.chunk.id for h in got] == [h.chunk.id for h in single]
        assert np.allclose([h.score for h in got], [h.score for h in single], atol=1e-5)
    assert reranker.rerank("anything", []) == []


def test_use_context_false_reads_the_bare_text(tiny_cross_encoder):
    bare = CrossEncoderReranker(tiny_cross_encoder, device="cpu", use_context=False)
    direct = CrossEncoder(tiny_cross_encoder, device="cpu", activation_fn=torch.nn.Identity()).predict(
        [("q", TEXTS[0])])
    assert bare.rerank("q", hits_for(TEXTS[:1]))[0].score == pytest.approx(float(direct[0]), abs=1e-5)


def test_bad_input_and_bad_models(reranker, tmp_path, minilm_path):
    with pytest.raises(InvalidQueryError):
        reranker.rerank("  ", hits_for(TEXTS))
    with pytest.raises(InvalidInputError):
        reranker.rerank("q", ["not a hit"])
    with pytest.raises(InvalidInputError):
        reranker.rerank("q", hits_for(TEXTS), top_n=0)
    with pytest.raises(InvalidInputError):
        reranker.batch_rerank(["a", "b"], [hits_for(TEXTS)])
    with pytest.raises(ModelLoadError, match="missing-model' is not a folder on this machine"):
        CrossEncoderReranker(str(tmp_path / "missing-model")).warm_up()
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    two = tmp_path / "two-labels"
    BertForSequenceClassification(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1,
                                             num_attention_heads=2, intermediate_size=64, num_labels=2)
                                  ).save_pretrained(str(two))
    AutoTokenizer.from_pretrained(minilm_path).save_pretrained(str(two))
    with pytest.raises(ModelLoadError, match="num_labels=1"):
        CrossEncoderReranker(str(two)).warm_up()


@pytest.fixture(scope="module")
def small_kb(tmp_path_factory):
    kb = KnowledgeBase.open(tmp_path_factory.mktemp("kb"))
    kb.upsert([Document(f"d{i}", t, {"title": f"T{i}", "group": "a" if i % 2 else "b"}) for i, t in enumerate(TEXTS)])
    kb.commit()
    return kb


def test_reranked_retriever_is_a_retriever(small_kb, reranker):
    pipeline = RerankedRetriever(small_kb.bm25_retriever(), reranker, depth=4)
    assert isinstance(pipeline, Retriever) and pipeline.name == "bm25+rerank"
    hits = pipeline.retrieve("Paris France", k=2)
    assert len(hits) == 2 and all({"bm25", "rerank"} <= set(h.scores) for h in hits)
    candidates = small_kb.bm25_retriever().retrieve("Paris France", k=4)
    assert [h.chunk.id for h in hits] == [h.chunk.id for h in reranker.rerank("Paris France", candidates, top_n=2)]
    assert [h.chunk.id for h in asyncio.run(pipeline.aretrieve("Paris France", k=2))] == [h.chunk.id for h in hits]
    batch = pipeline.batch_retrieve(["Paris France", "yellow"], k=2)
    assert [h.chunk.id for h in batch[0]] == [h.chunk.id for h in hits]
    filtered = pipeline.retrieve("Paris France", k=4, filters={"group": "b"})
    assert {h.chunk.metadata["group"] for h in filtered} == {"b"}
    assert pipeline.retrieve("Paris France", k=4, filters={"group": "a"}) == []  # no "a" chunk shares a term


def test_query_command_reranks(small_kb, tiny_cross_encoder, capsys):
    from rag_plugins.cli import main

    assert main(["query", str(small_kb.path), "Paris France", "--retriever", "bm25", "--rerank", tiny_cross_encoder,
                 "--k", "2", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 2 and all("rerank" in h["scores"] for h in hits)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="torch sees no CUDA GPU")
def test_on_cuda_the_reranker_runs_in_fp16_and_agrees_with_fp32(tiny_cross_encoder):
    gpu = CrossEncoderReranker(tiny_cross_encoder)
    gpu.warm_up()
    assert gpu.device == "cuda" and next(gpu.model.parameters()).dtype == torch.float16
    cpu = CrossEncoderReranker(tiny_cross_encoder, device="cpu")
    hits = hits_for(TEXTS)
    fast, exact = gpu.rerank("capital of France", hits), cpu.rerank("capital of France", hits)
    assert np.allclose(sorted(h.score for h in fast), sorted(h.score for h in exact), atol=1e-2)


def test_the_default_cross_encoder_can_be_named_by_the_environment(tmp_path, tiny_cross_encoder, monkeypatch):
    monkeypatch.setenv("RAG_PLUGINS_RERANK_MODEL", tiny_cross_encoder)
    reranker = CrossEncoderReranker(device="cpu")
    assert reranker.model_id == tiny_cross_encoder
    assert [h.document_id for h in reranker.rerank("q", hits_for(TEXTS))]  # it loads and scores
    monkeypatch.setenv("RAG_PLUGINS_RERANK_MODEL", str(tmp_path / "nowhere"))
    with pytest.raises(ModelLoadError, match="RAG_PLUGINS_RERANK_MODEL=PATH for the cross-encoder"):
        CrossEncoderReranker().warm_up()
    monkeypatch.delenv("RAG_PLUGINS_RERANK_MODEL")
    assert CrossEncoderReranker().model_id == "cross-encoder/ms-marco-MiniLM-L-6-v2"
