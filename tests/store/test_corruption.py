"""Byte flips and truncations in every file of a base: a typed error or the right answer."""

import random
import sqlite3
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from rag_plugins import Document, KnowledgeBase
from rag_plugins.errors import IndexCorruptedError, RagPluginsError
from tests.conftest import EmbedderProxy

QUERIES = ["capital of Italy", "pets that purr", "similarity search on GPU"]
KINDS = ("bm25", "dense", "hybrid", "graph")


class QueryCache(EmbedderProxy):
    """The real embedder, with query vectors remembered across trials (each trial opens a
    new base object, and re-embedding the same three queries would dominate the test)."""

    def __init__(self, inner):
        super().__init__(inner)
        self._queries = {}

    def embed_queries(self, texts):
        todo = [t for t in texts if t not in self._queries]
        if todo:
            self._queries.update(zip(todo, self.inner.embed_queries(todo)))
        return np.stack([self._queries[t] for t in texts])


def observe(path: Path, embedder) -> dict:
    """Everything a reader can be told by the base: hits of every retriever, filtered
    hits, every document with its version."""
    with KnowledgeBase.open(path, embedder=embedder, read_only=True) as kb:
        seen = {}
        for kind in KINDS:
            retriever = kb.retriever(kind)
            for query in QUERIES:
                seen[kind, query] = [(h.chunk.id, h.chunk.text, dict(h.chunk.metadata), round(h.score, 4))
                                     for h in retriever.retrieve(query, k=3)]
        seen["filtered"] = [h.chunk.id for h in kb.bm25_retriever().retrieve(
            "capital", k=3, filters={"topic": "travel"})]
        seen["docs"] = {i: (kb.get(i).text, dict(kb.get(i).metadata), kb.document_version(i))
                        for i in kb.document_ids()}
        seen["generation"] = kb.generation
    return seen


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, embedder, request):
    from tests.conftest import CORPUS

    path = tmp_path_factory.mktemp("flips") / "kb"
    cached = QueryCache(embedder)
    with KnowledgeBase.open(path, embedder=cached, graph=True, show_progress=False) as kb:
        kb.upsert(CORPUS)
        kb.commit()
        kb.upsert([Document("cats", CORPUS[0].text + " Updated.", CORPUS[0].metadata)])
        kb.delete(["dogs"])
        kb.commit()  # a second generation, so retired rows and cache entries exist too
    return path, cached, observe(path, cached)


def _files(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file() and p.stat().st_size > 0
                  and not p.name.endswith(("-wal", "-shm")))


@pytest.mark.slow
def test_byte_flips_and_truncations_in_every_file_are_refused_or_harmless(pristine):
    path, embedder, expected = pristine
    files = _files(path)
    assert {f.name for f in files} >= {"kb.sqlite", "manifest.json", "vectors.faiss", "bm25_post_tf.npy",
                                       "graph.json"}
    original = {f: f.read_bytes() for f in files}
    rng = random.Random(15)
    outcomes: Counter = Counter()
    by_file: Counter = Counter()
    broke = []
    sqlite_file = path / "kb.sqlite"  # the largest and most structured file gets extra trials
    targets = [f for f in files for _ in range(15)] + [sqlite_file] * 200
    trials = len(targets)
    for target in targets:
        data = bytearray(original[target])
        if rng.random() < 0.2:
            damage = f"truncated to {(cut := rng.randrange(len(data)))}"
            data = data[:cut]
        else:
            at = rng.randrange(len(data))
            data[at] ^= rng.randrange(1, 256)
            damage = f"byte {at} flipped"
        target.write_bytes(bytes(data))
        try:
            seen = observe(path, embedder)
            outcome = "same" if seen == expected else "CHANGED"
        except RagPluginsError:
            outcome = "typed error"
        except Exception as exc:  # an untyped error is a break too
            outcome = f"UNTYPED {type(exc).__name__}: {exc}"
        finally:
            target.write_bytes(original[target])
            for leftover in path.glob("kb.sqlite-*"):
                leftover.unlink()
        outcomes[outcome if outcome in ("same", "typed error") else "broke"] += 1
        by_file[target.name == "kb.sqlite", outcome in ("same", "typed error")] += 1
        if outcome not in ("same", "typed error"):
            broke.append(f"{target.relative_to(path)} {damage}: {outcome}")
    print(f"\nbyte flips and truncations: {trials} trials over {len(files)} files: "
          f"{outcomes['typed error']} refused with a typed error, {outcomes['same']} harmless, "
          f"{outcomes['broke']} broke ({by_file[True, True] + by_file[True, False]} of the trials in kb.sqlite)")
    assert broke == []
    assert observe(path, embedder) == expected


def test_a_flipped_chunk_text_is_refused_when_read(pristine, tmp_path):
    import shutil

    path, embedder, expected = pristine
    copy = tmp_path / "kb"
    shutil.copytree(path, copy)
    with sqlite3.connect(copy / "kb.sqlite") as conn:  # what a bit flip inside the text does
        conn.execute("UPDATE chunks SET text = replace(text, 'Colosseum', 'Colosseun')")
    with KnowledgeBase.open(copy, embedder=embedder, read_only=True) as kb:
        bm25 = kb.bm25_retriever()
        assert bm25.retrieve("cats purr", k=1)[0].chunk.id == "cats#0"  # other chunks still serve
        with pytest.raises(IndexCorruptedError, match="rome#0.*checksum"):
            bm25.retrieve("capital of Italy", k=1)
