"""Issue 15.3: the fingerprint hashes every byte of every tensor, so a copy of MiniLM with
every element past the 4,096th negated is a different model, and a base refuses it."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from rag_plugins import Document, KnowledgeBase
from rag_plugins.embeddings import fingerprint as fp
from rag_plugins.embeddings.sentence_transformer import SentenceTransformerEmbedder
from rag_plugins.errors import EmbeddingModelMismatchError


def copy_minilm(minilm_path: str, directory: Path, negate_tail: bool = False) -> str:
    """MiniLM copied to ``directory``; with ``negate_tail`` every tensor element after the
    4,096th is negated (what the sampled legacy fingerprint never reads)."""
    from safetensors.numpy import load_file, save_file

    shutil.copytree(minilm_path, directory, ignore=shutil.ignore_patterns("model.safetensors"))
    tensors = load_file(str(Path(minilm_path) / "model.safetensors"))
    if negate_tail:
        for name, array in tensors.items():
            flat = array.reshape(-1).copy()
            flat[4096:] = -flat[4096:]
            tensors[name] = flat.reshape(array.shape)
    save_file(tensors, str(directory / "model.safetensors"), metadata={"format": "pt"})
    return str(directory)


@pytest.fixture(scope="module")
def negated_minilm(tmp_path_factory, minilm_path):
    return copy_minilm(minilm_path, tmp_path_factory.mktemp("negated") / "model", negate_tail=True)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "rag-plugins" / "fingerprints"


def test_negated_tail_copy_has_another_fingerprint(embedder, negated_minilm):
    copy = SentenceTransformerEmbedder(negated_minilm, device="cpu")
    query = "what is BM25?"
    cosine = float(embedder.embed_queries([query])[0] @ copy.embed_queries([query])[0])
    assert cosine < 0.5  # a different model...
    assert copy.legacy_fingerprint == embedder.legacy_fingerprint  # ...that the sampled hash missed
    assert copy.fingerprint != embedder.fingerprint
    assert fp.is_full_fingerprint(copy.fingerprint) and len(copy.fingerprint) == len("sha256:") + 64


def test_a_base_built_with_minilm_refuses_the_negated_copy(tmp_path, embedder, negated_minilm):
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        kb.upsert([Document("a", "BM25 ranks documents by term statistics.")])
        kb.commit()
    with pytest.raises(EmbeddingModelMismatchError):
        KnowledgeBase.open(tmp_path / "kb", embedder=SentenceTransformerEmbedder(negated_minilm, device="cpu"))


def test_legacy_fingerprint_is_the_value_old_bases_recorded(embedder):
    # pinned: bases written before full hashing recorded exactly this for MiniLM
    assert embedder.legacy_fingerprint == "abf3f4f86c089dc233516a138caec093"
    assert fp.fingerprint_matches(embedder.legacy_fingerprint, embedder)
    assert fp.fingerprint_matches(embedder.fingerprint, embedder)
    assert not fp.fingerprint_matches("0" * 32, embedder)


def test_the_cache_serves_a_reopen_and_is_never_stale(tmp_path, minilm_path, monkeypatch, private_cache):
    model = copy_minilm(minilm_path, tmp_path / "model")
    first = SentenceTransformerEmbedder(model, device="cpu").fingerprint
    assert len(list(private_cache.glob("*.json"))) == 1

    def no_hashing(_model):
        raise AssertionError("hashed again although the files did not change")

    with monkeypatch.context() as m:
        m.setattr(fp, "full_fingerprint", no_hashing)
        assert SentenceTransformerEmbedder(model, device="cpu").fingerprint == first

    shutil.rmtree(model)  # new weights under the same path: the cached entry no longer applies
    copy_minilm(minilm_path, Path(model), negate_tail=True)
    assert SentenceTransformerEmbedder(model, device="cpu").fingerprint != first


def test_an_unreadable_cache_means_hashing_again(tmp_path, minilm_path, private_cache):
    model = copy_minilm(minilm_path, tmp_path / "model")
    first = SentenceTransformerEmbedder(model, device="cpu").fingerprint
    for entry in private_cache.glob("*.json"):
        entry.write_text('{"key": "garbage", "fingerprint": "sha256:0"}')
    assert SentenceTransformerEmbedder(model, device="cpu").fingerprint == first


def test_one_changed_weight_changes_the_fingerprint(tmp_path, minilm_path):
    from safetensors.numpy import load_file, save_file

    model = Path(copy_minilm(minilm_path, tmp_path / "model"))
    before = SentenceTransformerEmbedder(str(model), device="cpu").fingerprint
    tensors = load_file(str(model / "model.safetensors"))
    name = sorted(tensors)[-1]
    tensors[name] = tensors[name].copy()
    tensors[name].reshape(-1)[-1] = np.nextafter(tensors[name].reshape(-1)[-1], np.float32(np.inf))
    save_file(tensors, str(model / "model.safetensors"), metadata={"format": "pt"})
    assert SentenceTransformerEmbedder(str(model), device="cpu").fingerprint != before
