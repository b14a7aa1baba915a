"""Models that cannot load fail fast with a typed error; one variable points at a local copy."""

import time

import pytest

from rag_plugins import Document, KnowledgeBase
from rag_plugins.embeddings import SentenceTransformerEmbedder
from rag_plugins.errors import ModelLoadError
from rag_plugins.rerank import CrossEncoderReranker
from tests.conftest import EmbedderProxy

DEFAULT_ID = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-cache"))  # nothing cached
    monkeypatch.delenv("RAG_PLUGINS_EMBEDDING_MODEL", raising=False)


def test_an_uncached_model_offline_is_a_typed_error_within_seconds(offline):
    started = time.monotonic()
    with pytest.raises(ModelLoadError) as error:
        SentenceTransformerEmbedder(DEFAULT_ID).warm_up()
    assert time.monotonic() - started < 30  # the libraries alone retry for minutes
    message = str(error.value)
    assert DEFAULT_ID in message and "HF_HUB_OFFLINE" in message
    assert "--embedding-model PATH" in message and "RAG_PLUGINS_EMBEDDING_MODEL=PATH" in message


def test_a_missing_folder_is_named_as_such(offline):
    with pytest.raises(ModelLoadError, match=r"'\./no-such-model' is not a folder on this machine"):
        SentenceTransformerEmbedder("./no-such-model").warm_up()
    with pytest.raises(ModelLoadError, match="cross-encoder './no-such-reranker'.*--rerank PATH"):
        CrossEncoderReranker("./no-such-reranker").warm_up()


def test_an_unreachable_hub_fails_at_once_instead_of_retrying(monkeypatch, tmp_path):
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-cache"))

    def unreachable(self, *args, **kwargs):  # what model_info raises without a network
        raise ConnectionError("[Errno -2] Name or service not known")

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", unreachable)
    with pytest.raises(ModelLoadError, match="the hub cannot be reached to download it .*Name or service"):
        SentenceTransformerEmbedder(DEFAULT_ID).warm_up()


def test_a_failed_first_open_leaves_no_half_made_base(offline, tmp_path):
    with pytest.raises(ModelLoadError):
        KnowledgeBase.open(tmp_path / "kb", embedder=DEFAULT_ID)
    assert not (tmp_path / "kb").exists()
    (tmp_path / "mine").mkdir()
    with pytest.raises(ModelLoadError):
        KnowledgeBase.open(tmp_path / "mine", embedder=DEFAULT_ID)
    assert list((tmp_path / "mine").iterdir()) == []  # the caller's folder stays, empty


class Renamed(EmbedderProxy):
    """The real model under the product's default id, as a base built online records it."""

    def __init__(self, inner):
        super().__init__(inner)
        self.model_id = DEFAULT_ID


def test_the_environment_variable_points_a_base_at_a_local_copy(offline, tmp_path, embedder, minilm_path,
                                                                monkeypatch):
    with KnowledgeBase.open(tmp_path / "kb", embedder=Renamed(embedder)) as kb:
        kb.upsert([Document("rome", "Rome is the capital of Italy."), Document("cats", "Cats purr.")])
        kb.commit()
    with KnowledgeBase.open(tmp_path / "kb", read_only=True) as kb:  # the recorded id, offline
        with pytest.raises(ModelLoadError, match="RAG_PLUGINS_EMBEDDING_MODEL"):
            kb.dense_retriever().retrieve("Italian capital", k=1)
    monkeypatch.setenv("RAG_PLUGINS_EMBEDDING_MODEL", minilm_path)
    assert SentenceTransformerEmbedder().model_id == minilm_path
    with KnowledgeBase.open(tmp_path / "kb", read_only=True) as kb:  # checked by fingerprint
        assert kb.dense_retriever().retrieve("Italian capital", k=1)[0].document_id == "rome"


def test_the_cli_builds_dense_bases_with_the_model_the_variable_names(offline, tmp_path, minilm_path, monkeypatch,
                                                                      capsys):
    from rag_plugins.cli import main

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "rome.md").write_text("Rome is the capital of Italy.")
    assert main(["index", str(tmp_path / "docs"), "--kb", str(tmp_path / "kb")]) != 0  # the default id, offline
    assert "RAG_PLUGINS_EMBEDDING_MODEL=PATH" in capsys.readouterr().err
    assert not (tmp_path / "kb").exists()
    monkeypatch.setenv("RAG_PLUGINS_EMBEDDING_MODEL", minilm_path)
    assert main(["index", str(tmp_path / "docs"), "--kb", str(tmp_path / "kb")]) == 0
    with KnowledgeBase.open(tmp_path / "kb", read_only=True) as kb:
        assert kb.settings["embedding"]["model_id"] == minilm_path
