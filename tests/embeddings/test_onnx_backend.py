"""The ONNX backends: the real MiniLM exported offline and run by ONNX Runtime, their vectors
against torch's, the fingerprint that keeps backends apart in a knowledge base, the export
cache (shared by processes exporting at once), the cross-encoder, and the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from rag_plugins import Document, KnowledgeBase  # noqa: E402
from rag_plugins.cli import main  # noqa: E402
from rag_plugins.embeddings import SentenceTransformerEmbedder, onnx_backend  # noqa: E402
from rag_plugins.errors import EmbeddingModelMismatchError, InvalidInputError  # noqa: E402
from rag_plugins.rerank import CrossEncoderReranker  # noqa: E402

TEXTS = ["BM25", "Dense retrieval encodes queries and passages into one vector space.",
         "word " * 400,  # past the model's 256-token window: truncated the same way by both
         "FAISS searches vectors; " * 20]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("xdg-cache")


@pytest.fixture(autouse=True)
def _cache(monkeypatch, onnx_cache):
    monkeypatch.setenv("XDG_CACHE_HOME", str(onnx_cache))


@pytest.fixture(scope="module")
def onnx_embedders(minilm_path, tmp_path_factory, onnx_cache):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(onnx_cache))
        out = {b: SentenceTransformerEmbedder(minilm_path, backend=b) for b in ("onnx", "onnx-int8")}
        for e in out.values():
            e.warm_up()
    return out


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


def test_onnx_vectors_are_torchs_and_int8_stays_close(embedder, onnx_embedders):
    torch_vectors = embedder.embed_documents(TEXTS)
    assert cosines(onnx_embedders["onnx"].embed_documents(TEXTS), torch_vectors).min() > 0.9999
    int8 = onnx_embedders["onnx-int8"].embed_documents(TEXTS)
    assert cosines(int8, torch_vectors).min() > 0.95
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    # one text alone and the same text padded in a batch give the same vector
    alone = onnx_embedders["onnx"].embed_queries([TEXTS[0]])[0]
    assert float(alone @ onnx_embedders["onnx"].embed_queries(TEXTS)[0]) > 0.99999


def test_each_backend_has_its_own_fingerprint_and_torchs_is_unchanged(embedder, onnx_embedders, minilm_path):
    prints = {"torch": embedder.fingerprint, **{b: e.fingerprint for b, e in onnx_embedders.items()}}
    assert len(set(prints.values())) == 3
    assert prints["torch"] == SentenceTransformerEmbedder(minilm_path, device="cpu").fingerprint
    assert onnx_embedders["onnx"].legacy_fingerprint is None  # never mistaken for a torch-built legacy base
    assert SentenceTransformerEmbedder(minilm_path, backend="onnx").fingerprint == prints["onnx"]


def test_a_second_load_reuses_the_cached_export(onnx_embedders, minilm_path, monkeypatch):
    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_backend, "_export", no_export)
    again = SentenceTransformerEmbedder(minilm_path, backend="onnx-int8")
    assert np.array_equal(again.embed_queries(TEXTS[:2]), onnx_embedders["onnx-int8"].embed_queries(TEXTS[:2]))


def test_int8_is_quantised_from_the_cached_fp32_export(minilm_path, tmp_path, monkeypatch, embedder):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    SentenceTransformerEmbedder(minilm_path, backend="onnx").warm_up()

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_backend, "_export", no_export)
    vectors = SentenceTransformerEmbedder(minilm_path, backend="onnx-int8").embed_queries(TEXTS[:2])
    assert cosines(vectors, embedder.embed_queries(TEXTS[:2])).min() > 0.95
    assert len(list((tmp_path / "rag-plugins" / "onnx").glob("*/model.onnx"))) == 2
    assert not list((tmp_path / "rag-plugins" / "onnx").glob("*/.export-*"))


def test_an_unwritable_cache_still_runs_from_a_temporary_export(minilm_path, tmp_path, monkeypatch, embedder):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    vectors = SentenceTransformerEmbedder(minilm_path, backend="onnx").embed_queries(TEXTS[:2])
    assert cosines(vectors, embedder.embed_queries(TEXTS[:2])).min() > 0.9999


def test_bad_backends_are_refused_with_what_to_do(minilm_path):
    with pytest.raises(InvalidInputError, match="torch, onnx, onnx-int8"):
        SentenceTransformerEmbedder(minilm_path, backend="tensorrt")
    with pytest.raises(InvalidInputError, match="runs on the CPU"):
        SentenceTransformerEmbedder(minilm_path, backend="onnx", device="cuda")
    with pytest.raises(InvalidInputError, match="drop fp16"):
        CrossEncoderReranker(minilm_path, backend="onnx", fp16=True)


def test_a_base_remembers_its_backend_and_refuses_another(tmp_path, minilm_path, embedder, onnx_embedders):
    docs = [Document("a", "Pears are sweet fruit."), Document("b", "BM25 ranks documents by term statistics.")]
    with KnowledgeBase.open(tmp_path, embedder=minilm_path, embedding_backend="onnx-int8") as kb:
        kb.upsert(docs)
        kb.commit()
        assert kb.settings["embedding"]["backend"] == "onnx-int8"
    with KnowledgeBase.open(tmp_path, read_only=True) as kb:
        assert kb.embedder.backend == "onnx-int8"
        assert kb.dense_retriever().retrieve("which fruit is sweet?", k=1)[0].document_id == "a"
    with KnowledgeBase.open(tmp_path, read_only=True, embedder=minilm_path) as kb:  # named by id: its backend
        assert kb.embedder.backend == "onnx-int8"
    with pytest.raises(EmbeddingModelMismatchError, match="on the onnx-int8 backend.*runs it on torch"):
        KnowledgeBase.open(tmp_path, read_only=True, embedding_backend="torch")
    with pytest.raises(EmbeddingModelMismatchError, match="--embedding-backend onnx-int8"):
        KnowledgeBase.open(tmp_path, read_only=True, embedder=embedder)
    with pytest.raises(InvalidInputError, match="pass the backend to the embedder itself"):
        KnowledgeBase.open(tmp_path, read_only=True, embedder=onnx_embedders["onnx"], embedding_backend="torch")
    with pytest.raises(InvalidInputError, match="BM25-only"):
        KnowledgeBase.open(tmp_path / "new", embedding_backend="onnx")
    assert not (tmp_path / "new").exists()


def test_the_command_line_builds_queries_and_moves_a_base_between_backends(tmp_path, minilm_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "pears.txt").write_text("Pears are sweet fruit that ripen after picking.")
    (docs / "gpu.txt").write_text("A CUDA graphics card runs dense retrieval quickly.")
    kb = tmp_path / "kb"
    assert main(["index", str(docs), "--kb", str(kb), "--embedding-model", minilm_path,
                 "--embedding-backend", "onnx"]) == 0
    capsys.readouterr()
    assert main(["query", str(kb), "graphics card", "--retriever", "dense", "--k", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["document_id"].endswith("gpu.txt")
    assert main(["query", str(kb), "graphics card", "--embedding-backend", "torch"]) == 2
    err = capsys.readouterr().err
    assert "on the onnx backend" in err and "Traceback" not in err
    assert main(["reindex", "--kb", str(kb), "--model", minilm_path, "--embedding-backend", "onnx-int8",
                 "--switch"]) == 0
    with KnowledgeBase.open(kb, read_only=True) as base:
        assert base.settings["embedding"]["backend"] == "onnx-int8" and base.embedder.backend == "onnx-int8"


def test_the_cross_encoder_scores_match_torch(tiny_cross_encoder):
    pairs = [("pears", "Pears are sweet."), ("gpu", "word " * 600), ("bm25", "BM25 ranks documents. " * 10)]
    reference = CrossEncoderReranker(tiny_cross_encoder, device="cpu").score_pairs(pairs)
    onnx = CrossEncoderReranker(tiny_cross_encoder, backend="onnx").score_pairs(pairs)
    int8 = CrossEncoderReranker(tiny_cross_encoder, backend="onnx-int8").score_pairs(pairs)
    assert np.allclose(onnx, reference, atol=1e-5)
    assert np.allclose(int8, reference, atol=0.05 * np.abs(reference).max())


EXPORT = """
import sys
from rag_plugins.embeddings import SentenceTransformerEmbedder
vector = SentenceTransformerEmbedder(sys.argv[1], backend="onnx-int8").embed_queries(["pears are sweet"])[0]
print(",".join(f"{x:.6f}" for x in vector))
"""


@pytest.mark.slow
def test_processes_exporting_at_once_all_end_with_a_whole_file(minilm_path, tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    procs = [subprocess.Popen([sys.executable, "-c", EXPORT, minilm_path], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    try:
        outs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0, 0, 0], [err[-500:] for _, err in outs]
    assert len({out for out, _ in outs}) == 1
    exported = list((tmp_path / "rag-plugins" / "onnx").glob("*/model.onnx"))
    assert len(exported) == 1 and not list((tmp_path / "rag-plugins" / "onnx").glob("*/.export-*"))


def test_eval_records_the_backend_and_reuses_the_base_on_it(tmp_path, minilm_path, capsys):
    from tests.beir_data import write_beir

    data = write_beir(tmp_path / "tiny", [("d1", "Aspirin", "Aspirin relieves headaches."),
                                          ("d2", "Malaria", "Malaria is spread by mosquitoes.")],
                      {"q1": ("headache relief", ["d1"]), "q2": ("mosquito borne disease", ["d2"])})
    out, index = tmp_path / "m.json", tmp_path / "index"
    common = ["eval", str(data), "--split", "test", "--retriever", "dense", "--index-dir", str(index),
              "--embedding-model", minilm_path, "--k", "2", "--output", str(out), "--run-file", str(tmp_path / "r")]
    assert main([*common, "--embedding-backend", "onnx-int8"]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["config"]["embedding_backend"] == "onnx-int8" and metrics["recall@1"] == 1.0
    assert main(common) == 0  # the reused base keeps its backend
    assert json.loads(out.read_text())["config"]["embedding_backend"] == "onnx-int8"
    capsys.readouterr()
    assert main([*common, "--embedding-backend", "torch"]) == 2
    assert "on the onnx-int8 backend" in capsys.readouterr().err
