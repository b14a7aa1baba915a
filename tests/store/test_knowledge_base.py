import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from rag_plugins import Document, KnowledgeBase
from rag_plugins.errors import (
    DocumentNotFoundError,
    EmbeddingModelMismatchError,
    IndexCorruptedError,
    UnsupportedFormatVersionError,
)
from tests.store.helpers import kb_state

REPO = Path(__file__).resolve().parents[2]


def test_unchanged_documents_are_not_re_embedded(tmp_path, counting_embedder, corpus):
    kb = KnowledgeBase.open(tmp_path / "kb", embedder=counting_embedder)
    kb.upsert(corpus)
    first = kb.commit()
    assert first.chunks_embedded == len(corpus) and len(counting_embedder.document_calls) == 1
    before = kb_state(kb)

    result = kb.upsert(corpus)  # identical content
    assert result.unchanged == [d.id for d in corpus] and not result.added and not result.updated
    assert kb.commit().generation == first.generation  # nothing to do
    assert len(counting_embedder.document_calls) == 1  # the encoder was never called again
    assert kb_state(kb) == before

    changed = Document("dogs", corpus[1].text + " Dogs also swim.", corpus[1].metadata)
    meta_only = Document("cats", corpus[0].text, {**corpus[0].metadata, "year": 1999})
    result = kb.upsert([changed, meta_only, *corpus[2:]])
    assert result.updated == ["dogs", "cats"] and len(result.unchanged) == 4
    commit = kb.commit()
    # only the changed text is embedded; a metadata-only change reuses the cached vector
    assert counting_embedder.document_calls[-1] == [t for t in counting_embedder.document_calls[-1] if "swim" in t]
    assert commit.chunks_embedded == 1
    assert kb.document_version("dogs") == 2 and kb.document_version("paris") == 1
    hits = kb.bm25_retriever().retrieve("cat", k=1, filters={"year": 1999})
    assert hits[0].document_id == "cats"


def test_reopen_gives_the_same_results(tmp_path, embedder, corpus):
    path = tmp_path / "kb"
    with KnowledgeBase.open(path, embedder=embedder) as kb:
        kb.upsert(corpus)
        kb.commit()
        expected = [(h.chunk.id, round(h.score, 6)) for h in kb.hybrid_retriever().retrieve("capital city museum", k=3)]
    with KnowledgeBase.open(path, embedder=embedder) as kb:
        got = [(h.chunk.id, round(h.score, 6)) for h in kb.hybrid_retriever().retrieve("capital city museum", k=3)]
        assert kb.manifest()["embedding"]["fingerprint"] == embedder.fingerprint
    assert got == expected


def test_delete_and_rollback(tmp_path, corpus):
    kb = KnowledgeBase.open(tmp_path / "kb")
    kb.upsert(corpus)
    kb.commit()
    assert kb.delete(["paris"]) == ["paris"]
    kb.rollback()
    assert kb.commit().documents_deleted == 0 and "paris" in kb
    kb.delete(["paris", "rome"])
    kb.commit()
    assert "paris" not in kb and len(kb) == 4
    assert all(h.document_id not in ("paris", "rome") for h in kb.bm25_retriever().retrieve("capital", k=10))
    with pytest.raises(DocumentNotFoundError):
        kb.delete(["paris"])
    assert kb.delete(["paris"], missing_ok=True) == []


def test_staged_changes_are_invisible_until_commit(tmp_path, corpus):
    kb = KnowledgeBase.open(tmp_path / "kb")
    kb.upsert(corpus[:2])
    kb.commit()
    kb.upsert([Document("new", "A brand new zebra document")])
    assert kb.bm25_retriever().retrieve("zebra", k=1) == []
    kb.commit()
    assert kb.bm25_retriever().retrieve("zebra", k=1)[0].document_id == "new"


def test_titles_and_headings_are_indexed_unless_turned_off(tmp_path):
    docs = [Document("a", "It binds the receptor.", {"title": "Spike protein"}),
            Document("b", "# Vaccines\n\nTrials in 2020.", {"title": "Other"})]
    with_context = KnowledgeBase.open(tmp_path / "on")
    with_context.upsert(docs)
    with_context.commit()
    def matching(kb, query):
        return [h.document_id for h in kb.bm25_retriever().retrieve(query, k=2) if h.score > 0]

    assert matching(with_context, "spike") == ["a"]
    assert matching(with_context, "vaccine") == ["b"]
    assert with_context.bm25_retriever().retrieve("spike", k=1)[0].chunk.text == "It binds the receptor."
    bare = KnowledgeBase.open(tmp_path / "off", index_context=False)
    bare.upsert(docs)
    bare.commit()
    assert matching(bare, "spike") == [] and matching(bare, "vaccine") == []


def test_filters_keep_the_k_guarantee(tmp_path, embedder):
    docs = [Document(f"d{i}", f"common words about topic number {i}", {"group": "a" if i % 10 == 0 else "b"})
            for i in range(60)]
    kb = KnowledgeBase.open(tmp_path / "kb", embedder=embedder)
    kb.upsert(docs)
    kb.commit()
    for retriever in (kb.bm25_retriever(), kb.dense_retriever(), kb.hybrid_retriever()):
        hits = retriever.retrieve("unrelated query about volcanoes", k=5, filters={"group": "a"})
        assert len(hits) == 5
        assert all(h.chunk.metadata["group"] == "a" for h in hits)
        six = retriever.retrieve("topic number 7", k=50, filters={"group": "a"})
        assert {h.document_id for h in six} == {f"d{i}" for i in range(0, 60, 10)}
    ranged = kb.bm25_retriever().retrieve("topic", k=100, filters={"$or": [{"document_id": "d1"}, {"document_id": {"$in": ["d2", "d3"]}}]})
    assert {h.document_id for h in ranged} == {"d1", "d2", "d3"}


def test_k_larger_than_the_corpus_returns_everything(tmp_path, corpus):
    kb = KnowledgeBase.open(tmp_path / "kb")
    kb.upsert(corpus)
    kb.commit()
    assert len(kb.bm25_retriever().retrieve("cats dogs BM25 FAISS Paris Rome", k=1000)) == len(corpus)


def test_embedding_model_drift_is_refused_even_at_the_same_dimension(tmp_path, embedder, corpus, perturbed_model):
    path = tmp_path / "kb"
    with KnowledgeBase.open(path, embedder=embedder) as kb:
        kb.upsert(corpus)
        kb.commit()
    assert perturbed_model.dimension == embedder.dimension
    with pytest.raises(EmbeddingModelMismatchError, match="fingerprint"):
        KnowledgeBase.open(path, embedder=perturbed_model)
    with KnowledgeBase.open(path, embedder=embedder) as kb:  # querying with another model
        kb.embedder = perturbed_model
        kb._embedder_checked = False
        with pytest.raises(EmbeddingModelMismatchError):
            kb.dense_retriever().retrieve("cats", k=1)


@pytest.fixture(scope="module")
def perturbed_model(tmp_path_factory, minilm_path):
    """all-MiniLM-L6-v2 with one weight changed: same dimension, different model."""
    import torch
    from sentence_transformers import SentenceTransformer

    from rag_plugins.embeddings import SentenceTransformerEmbedder

    model = SentenceTransformer(minilm_path, device="cpu")
    with torch.no_grad():
        next(model.parameters()).add_(0.01)
    out = tmp_path_factory.mktemp("perturbed")
    model.save(str(out))
    return SentenceTransformerEmbedder(str(out), device="cpu")


def test_corrupt_index_file_refuses_to_load(tmp_path, embedder, corpus):
    path = tmp_path / "kb"
    with KnowledgeBase.open(path, embedder=embedder) as kb:
        kb.upsert(corpus)
        kb.commit()
        gen = path / "generations" / f"{kb.generation:06d}"
    faiss_file = gen / "vectors.faiss"
    data = faiss_file.read_bytes()
    faiss_file.write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(IndexCorruptedError, match="vectors.faiss"):
        KnowledgeBase.open(path, embedder=embedder)
    faiss_file.write_bytes(data)
    postings = gen / "bm25_post_tf.npy"
    raw = bytearray(postings.read_bytes())
    raw[-1] ^= 0xFF  # one flipped byte
    postings.write_bytes(bytes(raw))
    with pytest.raises(IndexCorruptedError, match="checksum"):
        KnowledgeBase.open(path, embedder=embedder)


def test_newer_format_version_is_refused(tmp_path, corpus):
    path = tmp_path / "kb"
    with KnowledgeBase.open(path) as kb:
        kb.upsert(corpus)
        kb.commit()
        kb.store.set_meta("format_version", 99)
    with pytest.raises(UnsupportedFormatVersionError, match="pip install -U rag-plugins"):
        KnowledgeBase.open(path)


CRASH_SCRIPT = textwrap.dedent("""
    import os, sys
    from rag_plugins import Document, KnowledgeBase
    from rag_plugins.store import knowledge_base as kbmod
    from rag_plugins.store.docstore import DocumentStore
    from rag_plugins.index.faiss_vectors import VectorIndex
    stage = sys.argv[2]
    if stage == "after_files":
        original = kbmod.KnowledgeBase._write_generation
        def write_then_die(self, *a, **k):
            original(self, *a, **k); os._exit(1)
        kbmod.KnowledgeBase._write_generation = write_then_die
    elif stage == "mid_files":
        def half_written(self, directory):
            (directory / "vectors.faiss").write_bytes(b"partial"); os._exit(1)
        VectorIndex.save = half_written
    elif stage == "mid_sqlite":
        def die_in_transaction(self, generation, deletes, upserts, records, meta):
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute("DELETE FROM chunks")
            self._conn.execute("DELETE FROM documents")
            self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('generation', '99')")
            os._exit(1)
        DocumentStore.apply_commit = die_in_transaction
    kb = KnowledgeBase.open(sys.argv[1])
    kb.upsert([Document("late", "a document that never lands"), Document("cats", "rewritten cats")])
    kb.delete(["rome"])
    kb.commit()
    os._exit(0)
""")


@pytest.mark.parametrize("stage", ["mid_files", "after_files", "mid_sqlite"])
def test_a_crash_during_commit_leaves_the_previous_state(tmp_path, embedder, corpus, stage):
    path = tmp_path / "kb"
    with KnowledgeBase.open(path, embedder=embedder) as kb:
        kb.upsert(corpus)
        kb.commit()
        before = kb_state(kb)
        expected = [h.chunk.id for h in kb.hybrid_retriever().retrieve("capital of Italy", k=3)]
    proc = subprocess.run([sys.executable, "-c", CRASH_SCRIPT, str(path), stage], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    with KnowledgeBase.open(path, embedder=embedder) as kb:
        assert kb_state(kb) == before
        assert [h.chunk.id for h in kb.hybrid_retriever().retrieve("capital of Italy", k=3)] == expected
        current = f"{kb.generation:06d}"
        assert sorted(p.name for p in (path / "generations").iterdir()) == [current, current + ".lock"]
        kb.upsert([Document("after", "the base still takes commits")])
        assert kb.commit().generation == before["generation"] + 1


def test_manifest_records_model_and_checksums(tmp_path, embedder, corpus):
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        kb.upsert(corpus)
        kb.commit()
        manifest = kb.manifest()
    assert manifest["format_version"] == 2
    assert manifest["embedding"] == {"model_id": embedder.model_id, "revision": None,
                                     "fingerprint": embedder.fingerprint, "dimension": 384, "normalize": True,
                                     "backend": "torch"}
    assert set(manifest["files"]) >= {"bm25.json", "vectors.faiss", "bm25_post_tf.npy"}
    assert all(len(v) == 64 for v in manifest["files"].values())
    assert json.loads((tmp_path / "kb" / "generations" / "000001" / "manifest.json").read_text()) == manifest


def test_no_pickle_in_index_files(tmp_path, embedder, corpus):
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        kb.upsert(corpus)
        kb.commit()
    for npy in (tmp_path / "kb" / "generations").rglob("*.npy"):
        np.load(npy, allow_pickle=False)  # raises if an object array had been pickled


def downgrade_to_format_1(path: Path, legacy_fingerprint: str) -> None:
    """Rewrite a base the way rag-plugins wrote format 1: one row per live chunk, no
    checksums, no leases, and the sampled model fingerprint."""
    import sqlite3

    with sqlite3.connect(path / "kb.sqlite") as conn:
        conn.executescript("""
            CREATE TABLE c1 (row INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, document_id TEXT NOT NULL,
                             position INTEGER NOT NULL, text TEXT NOT NULL, metadata TEXT NOT NULL);
            INSERT INTO c1 SELECT row, id, document_id, position, text, metadata FROM chunks WHERE retired IS NULL;
            DROP TABLE chunks; ALTER TABLE c1 RENAME TO chunks;
            CREATE INDEX chunks_by_document ON chunks(document_id);
            CREATE TABLE d1 AS SELECT id, text, metadata, content_hash, version, updated_at FROM documents;
            DROP TABLE documents; ALTER TABLE d1 RENAME TO documents;
            CREATE TABLE e1 AS SELECT key, vector FROM embeddings; DROP TABLE embeddings;
            ALTER TABLE e1 RENAME TO embeddings;
            CREATE TABLE x1 AS SELECT key, extraction FROM extractions; DROP TABLE extractions;
            ALTER TABLE x1 RENAME TO extractions;
            DELETE FROM meta WHERE key = 'settings_sha256';
            UPDATE meta SET value = '1' WHERE key = 'format_version';
        """)
        settings = json.loads(conn.execute("SELECT value FROM meta WHERE key='settings'").fetchone()[0])
        settings["embedding"]["fingerprint"] = legacy_fingerprint
        conn.execute("UPDATE meta SET value=? WHERE key='settings'", (json.dumps(settings),))
    for lock in (path / "generations").glob("*.lock"):
        lock.unlink()
    (generation,) = [p for p in (path / "generations").iterdir()]
    from rag_plugins.store.manifest import sha256_file

    manifest = json.loads((generation / "manifest.json").read_text())
    for key in ("chunks", "settings_sha256", "manifest_sha256"):
        manifest.pop(key)
    manifest["format_version"] = 1
    manifest["embedding"]["fingerprint"] = legacy_fingerprint
    manifest["files"] = {name: sha256_file(generation / name) for name in manifest["files"]}
    (generation / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture(scope="module")
def tail_changed_model(tmp_path_factory, minilm_path):
    """all-MiniLM-L6-v2 with one weight changed beyond the 4,096 elements the sampled
    (format 1) fingerprint read: the sampled fingerprint cannot tell them apart."""
    import torch
    from sentence_transformers import SentenceTransformer

    from rag_plugins.embeddings import SentenceTransformerEmbedder

    model = SentenceTransformer(minilm_path, device="cpu")
    with torch.no_grad():
        model[0].auto_model.embeddings.word_embeddings.weight.view(-1)[100_000:] *= -1
    out = tmp_path_factory.mktemp("tail_changed")
    model.save(str(out))
    return SentenceTransformerEmbedder(str(out), device="cpu")


def test_a_format_1_base_is_upgraded_by_its_writer_and_keeps_its_answers(tmp_path, embedder, corpus,
                                                                        tail_changed_model):
    path = tmp_path / "kb"
    with KnowledgeBase.open(path, embedder=embedder) as kb:
        kb.upsert(corpus)
        kb.commit()
        kb.upsert([Document("cats", "Cats purr. Rewritten, so a retired row exists.")])
        kb.commit()
        expected = [(h.chunk.id, round(h.score, 5)) for h in kb.hybrid_retriever().retrieve("capital", k=4)]
    assert tail_changed_model.legacy_fingerprint == embedder.legacy_fingerprint  # what format 1 saw
    assert tail_changed_model.fingerprint != embedder.fingerprint
    downgrade_to_format_1(path, embedder.legacy_fingerprint)

    with pytest.raises(UnsupportedFormatVersionError, match="open it once for writing"):
        KnowledgeBase.open(path, read_only=True)
    with KnowledgeBase.open(path, embedder=embedder) as kb:  # the writer upgrades in place
        assert [(h.chunk.id, round(h.score, 5)) for h in kb.hybrid_retriever().retrieve("capital", k=4)] == expected
        kb.upsert([Document("late", "A document committed after the upgrade.")])
        assert kb.commit().generation == 3
        assert kb.manifest()["format_version"] == 2
    with KnowledgeBase.open(path, read_only=True) as kb:
        assert kb.get("late").text == "A document committed after the upgrade."
    # the sampled fingerprint matches, but the full one recorded on upgrade does not
    with pytest.raises(EmbeddingModelMismatchError, match="fingerprint"):
        KnowledgeBase.open(path, embedder=tail_changed_model)


def test_a_base_written_before_sync_existed_is_read_and_then_completed_by_its_writer(tmp_path, corpus):
    """Bases from the release before sync have no ``sources`` / ``document_times`` tables:
    readers see no sync record, and the first writer adds the tables, so commits and syncs work."""
    import sqlite3

    path = tmp_path / "kb"
    with KnowledgeBase.open(path) as kb:
        kb.upsert(corpus)
        kb.commit()
    with sqlite3.connect(path / "kb.sqlite") as conn:
        conn.executescript("DROP TABLE sources; DROP TABLE document_times;")
    with KnowledgeBase.open(path, read_only=True) as reader:
        info = reader.document_info(corpus[0].id)
        assert info["version"] == 1 and info["first_indexed"] is None and reader.store.sources() == {}
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "new.md").write_text("# New\n\nSynced after the upgrade.")
    with KnowledgeBase.open(path) as kb:
        kb.upsert([Document(corpus[0].id, corpus[0].text + " Changed.")])
        kb.commit()
        assert kb.document_info(corpus[0].id)["version"] == 2
        report = kb.sync([folder], prune=False)
        [added] = report.added
        assert kb.store.sources()[str(folder / "new.md")].documents == (added,)
        assert kb.document_info(added)["first_indexed"] is not None
