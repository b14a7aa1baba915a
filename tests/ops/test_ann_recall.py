"""The ANN recall monitor: an HNSW index searched with too small an ef_search is flagged, a
well-set one is not, and a commit triggers a new measurement."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from rag_plugins import Document, KnowledgeBase
from rag_plugins.errors import InvalidInputError
from rag_plugins.index.faiss_vectors import VectorIndexConfig
from rag_plugins.loaders import load_documents
from rag_plugins.ops import AnnRecallMonitor, ann_recall
from rag_plugins.tracing import ObservedRetriever

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
QUERIES = ([json.loads(line)["text"] for line in (DATA / "hotpotqa_questions.jsonl").read_text().splitlines()]
           + ["radio comedy", "science fiction novels", "a city in New York", "film directors", "model engineering"])
STARVED = VectorIndexConfig(kind="hnsw", hnsw_m=4, ef_construction=8, ef_search=1)


def base(path, embedder, config):
    kb = KnowledgeBase.open(path, embedder=embedder, vector_index=config)
    kb.upsert(list(load_documents([DATA / "hotpotqa_paragraphs.jsonl"]))[:150])
    kb.commit()
    return kb


@pytest.fixture(scope="module")
def starved(tmp_path_factory, embedder):
    with base(tmp_path_factory.mktemp("starved"), embedder, STARVED) as kb:
        yield kb


@pytest.fixture(scope="module")
def healthy(tmp_path_factory, embedder):
    with base(tmp_path_factory.mktemp("healthy"), embedder, VectorIndexConfig(kind="hnsw")) as kb:
        yield kb


def test_recall_against_exact_search(starved, healthy):
    bad, good = ann_recall(starved, QUERIES), ann_recall(healthy, QUERIES)
    assert (bad.kind, bad.settings, bad.queries, bad.k) == ("hnsw", {"hnsw_m": 4, "ef_search": 1}, 35, 10)
    assert bad.recall < 0.9 and good.recall >= 0.95 and bad.generation == starved.generation


def test_a_starved_hnsw_index_is_flagged_after_its_commit_and_a_healthy_one_is_not(starved, healthy, caplog):
    flagged = []
    monitors = {name: AnnRecallMonitor(kb, on_alert=flagged.append) for name, kb in (("starved", starved),
                                                                                     ("healthy", healthy))}
    with caplog.at_level(logging.WARNING, logger="rag_plugins.ops"):
        for name, kb in (("starved", starved), ("healthy", healthy)):
            dense = ObservedRetriever(kb.dense_retriever(), monitors[name])
            for query in QUERIES[:25]:
                dense.retrieve(query, k=5)
            monitors[name].wait()
    assert monitors["healthy"].last.recall >= 0.95 and monitors["healthy"].alerts == []
    assert [a.generation for a in flagged] == [starved.generation] and flagged[0].recall < 0.9
    assert any("raise ef_search" in r.getMessage() for r in caplog.records)
    # a commit is a new generation: the next search measures again
    starved.upsert([Document("new", "A paragraph about model engineering societies.")])
    starved.commit()
    ObservedRetriever(starved.dense_retriever(), monitors["starved"]).retrieve("model engineers", k=5)
    monitors["starved"].wait()
    assert [a.generation for a in flagged] == [starved.generation - 1, starved.generation]


def test_a_flat_index_is_never_measured(tmp_path, embedder):
    with base(tmp_path / "flat", embedder, None) as kb:
        monitor = AnnRecallMonitor(kb)
        dense = ObservedRetriever(kb.dense_retriever(), monitor)
        for query in QUERIES[:25]:
            dense.retrieve(query, k=5)
        monitor.wait()
        assert monitor.last is None and ann_recall(kb, QUERIES[:5]).recall == 1.0


def test_bad_settings_are_typed_errors(healthy):
    with pytest.raises(InvalidInputError, match="threshold"):
        AnnRecallMonitor(healthy, threshold=0)
    with pytest.raises(InvalidInputError, match="at least one query"):
        ann_recall(healthy, [])
