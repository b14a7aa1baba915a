"""Issue 15.10: the reranker refuses a folder that is not a cross-encoder instead of scoring
with a classification head created with random weights."""

import json
from types import SimpleNamespace

import pytest

from rag_plugins.errors import ModelLoadError
from rag_plugins.rerank import CrossEncoderReranker
from rag_plugins.rerank.head import check_trained_head


def build_tiny_bi_encoder(directory, minilm_path: str, sentence_transformers_layout: bool) -> str:
    """A random 2-layer BERT *without* a classification head (an embedding model), saved
    as a plain transformers folder or as a sentence-transformers one (with pooling)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(minilm_path)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=512)
    if not sentence_transformers_layout:
        BertModel(config).save_pretrained(str(directory), safe_serialization=True)
        tokenizer.save_pretrained(str(directory))
        return str(directory)
    from sentence_transformers import SentenceTransformer

    try:
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Pooling, Transformer

    base = directory.parent / f"{directory.name}-base"
    build_tiny_bi_encoder(base, minilm_path, False)
    SentenceTransformer(modules=[Transformer(str(base)), Pooling(32)], device="cpu").save(str(directory))
    return str(directory)


@pytest.mark.parametrize("layout", [False, True], ids=["transformers", "sentence-transformers"])
def test_a_bi_encoder_folder_is_refused_naming_the_head(tmp_path, minilm_path, layout):
    folder = build_tiny_bi_encoder(tmp_path / "bi", minilm_path, layout)
    reranker = CrossEncoderReranker(folder, device="cpu")
    with pytest.raises(ModelLoadError, match=r"not a cross-encoder.*'classifier.weight'.*BertModel.*Pass a cross-encoder"):
        reranker.warm_up()


def test_the_real_minilm_embedder_is_refused(minilm_path):
    with pytest.raises(ModelLoadError, match="not a cross-encoder"):
        CrossEncoderReranker(minilm_path, device="cpu").warm_up()


def test_a_cross_encoder_folder_is_accepted(tiny_cross_encoder):
    reranker = CrossEncoderReranker(tiny_cross_encoder, device="cpu")
    reranker.warm_up()
    assert reranker.score_pairs([("q", "p")]).shape == (1,)


def test_without_safetensors_the_config_decides(tmp_path):
    class Head:
        base_model_prefix = "bert"

        def state_dict(self):
            return {"bert.x": 0, "classifier.weight": 0}

    model = SimpleNamespace(transformers_model=Head())
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
    with pytest.raises(ModelLoadError, match="architectures \\['BertModel'\\]"):
        check_trained_head(model, "m", tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["BertForSequenceClassification"]}))
    check_trained_head(model, "m", tmp_path)
