"""Issue 15.8: vectors no normalised model can produce are refused at the boundary, so dense
scores never become infinite."""

import numpy as np
import pytest

from rag_plugins import Document, KnowledgeBase
from rag_plugins.embeddings.validation import MAX_NORM, check_embeddings
from rag_plugins.errors import InvalidEmbeddingError
from tests.conftest import CountingEmbedder


class Scaled(CountingEmbedder):
    """The real MiniLM with every vector multiplied by ``factor``."""

    factor = 1e20

    def embed_documents(self, texts):
        return super().embed_documents(texts) * self.factor

    def embed_queries(self, texts):
        return super().embed_queries(texts) * self.factor


def test_a_1e20_scaled_embedder_is_refused_at_commit(tmp_path, embedder, corpus):
    kb = KnowledgeBase.open(tmp_path / "kb", embedder=Scaled(embedder))
    kb.upsert(corpus)
    with pytest.raises(InvalidEmbeddingError, match="norms such as 1e\\+20"):
        kb.commit()
    assert kb.generation == 0


def test_a_1e20_scaled_query_is_refused_before_any_score_is_inf(tmp_path, embedder, corpus):
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        kb.upsert(corpus)
        kb.commit()
    kb = KnowledgeBase.open(tmp_path / "kb", embedder=Scaled(embedder))
    for retriever in (kb.dense_retriever(), kb.hybrid_retriever(method="relative_score")):
        with pytest.raises(InvalidEmbeddingError, match="overflows"):
            retriever.retrieve("dogs", k=3)


def test_bounds():
    unit = np.array([[0.6, 0.8], [1.0, 0.0]], np.float32)
    assert check_embeddings(unit, 2, 2, "m", normalized=True).shape == (2, 2)
    assert check_embeddings(unit * 50, 2, 2, "m").shape == (2, 2)  # unnormalised models are fine
    with pytest.raises(InvalidEmbeddingError, match="normalize=False"):
        check_embeddings(unit * 2, 2, 2, "m", normalized=True)
    with pytest.raises(InvalidEmbeddingError, match="first positions: \\[1\\]"):
        check_embeddings(np.array([[1.0, 0.0], [MAX_NORM * 2, 0.0]]), 2, 2, "m")
    with pytest.raises(InvalidEmbeddingError, match="NaN or infinite"):
        check_embeddings(np.array([[1e39, 0.0]]), 1, 2, "m")  # overflows float32


def test_the_sentence_transformer_embedder_checks_its_own_norms(embedder):
    vectors = embedder.embed_documents(["a", "b"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)


def test_lone_surrogates_never_reach_the_tokenizer(tmp_path, embedder):
    from rag_plugins.errors import InvalidInputError

    for embed in (embedder.embed_queries, embedder.embed_documents):
        with pytest.raises(InvalidInputError, match="text 1 to embed has a lone surrogate"):
            embed(["fine", "half a pair \ud83d"])
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        with pytest.raises(InvalidInputError, match="lone surrogate"):
            kb.embed_queries(["\udc80"])
