"""The Index seam: a new index kind is one class plus its registration, a server-backed
one fits as naturally as local files, and the catalog builds a retriever kind over it."""

from __future__ import annotations

import json
import sqlite3
import uuid

import numpy as np
import pytest

from rag_plugins import Document, KnowledgeBase
from rag_plugins.catalog import CATALOG, RetrieverKind, register_retriever
from rag_plugins.errors import InvalidInputError, MissingIndexError
from rag_plugins.index import INDEX_KINDS, IndexBase, register_index
from rag_plugins.retrievers.base import BaseRetriever


class KeywordServerIndex(IndexBase):
    """Chunk texts kept in a "server" (a SQLite file outside the base, named by the base's
    ``indexes={"keywords": {"server": ...}}`` setting): each generation is its own collection
    (table), and the generation folder records only its name."""

    kind = "keywords"

    def __init__(self, server: str, collection: str):
        self.server, self.collection = server, collection
        with self._connect() as con:
            self.rows = np.array([r for (r,) in con.execute(f"SELECT row FROM {collection} ORDER BY row")], np.int64)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.server)

    @classmethod
    def wanted(cls, settings):
        return "keywords" in settings.get("indexes", {})

    @classmethod
    def empty(cls, services):
        server, name = services.settings["indexes"]["keywords"]["server"], f"c_{uuid.uuid4().hex}"
        with sqlite3.connect(server) as con:
            con.execute(f"CREATE TABLE {name} (row INTEGER PRIMARY KEY, text TEXT)")
        return cls(server, name)

    @classmethod
    def load(cls, directory, services):
        return cls(services.settings["indexes"]["keywords"]["server"],
                   json.loads((directory / "keywords.json").read_text())["collection"])

    def apply(self, changes, services):
        name = f"c_{uuid.uuid4().hex}"
        removed = ",".join(str(int(r)) for r in changes.removed_rows) or "-1"
        with self._connect() as con:
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM {self.collection} WHERE row NOT IN ({removed})")
            con.executemany(f"INSERT INTO {name} VALUES (?, ?)",
                            [(int(r), t.lower()) for r, t in zip(changes.added_rows, changes.texts)])
        return KeywordServerIndex(self.server, name)

    def save(self, directory):
        (directory / "keywords.json").write_text(json.dumps({"collection": self.collection}))
        return ["keywords.json"]

    def search(self, query, k, allowed_rows=None):
        allowed = None if allowed_rows is None else set(allowed_rows.tolist())
        out = []
        with self._connect() as con:
            for word in query:
                found = [(r, t.count(word.lower())) for r, t in con.execute(f"SELECT row, text FROM {self.collection}")
                         if word.lower() in t and (allowed is None or r in allowed)]
                found.sort(key=lambda rs: (-rs[1], rs[0]))
                out.append((np.array([r for r, _ in found[:k]], np.int64),
                            np.array([s for _, s in found[:k]], np.float32)))
        return out


class KeywordRetriever(BaseRetriever):
    def __init__(self, kb, name="keyword"):
        self.kb, self.name = kb, name

    def _retrieve(self, query, k, filters):
        snap = self.kb.searchable_snapshot()
        rows, scores = snap.index("keywords").search([query], k, snap.allowed_rows(filters))[0]
        return self.kb.hits(rows, scores, self.name)


@pytest.fixture
def keyword_kind():
    register_index(KeywordServerIndex)
    register_retriever(RetrieverKind("keyword", "Substring match, served from elsewhere.", KeywordRetriever,
                                     needs=("keywords",), options=("name",)))
    yield KeywordServerIndex
    INDEX_KINDS.pop("keywords")
    CATALOG.kinds.pop("keyword")


def test_a_server_backed_index_kind_plugs_in(keyword_kind, tmp_path):
    server = {"keywords": {"server": str(tmp_path / "server.sqlite")}}
    kb = KnowledgeBase.open(tmp_path / "kb", indexes=server)
    kb.upsert([Document("a", "solar panels on roofs", {"lang": "en"}), Document("b", "solar farms", {"lang": "de"}),
               Document("c", "wind farms", {"lang": "en"})])
    kb.commit()
    assert kb.index_kinds == ("bm25", "keywords")
    folder = tmp_path / "kb" / "generations" / "000001"
    assert json.loads((folder / "keywords.json").read_text())["collection"].startswith("c_")
    assert "keywords.json" in kb.manifest()["files"] and kb.manifest()["indexes"]["keywords"]["size"] == 3
    assert "keyword" in CATALOG.available(kb)

    retriever = kb.retriever("keyword")
    assert [h.document_id for h in retriever.retrieve("solar", k=5)] == ["a", "b"]
    assert [h.document_id for h in retriever.retrieve("farms", k=5, filters={"lang": "en"})] == ["c"]

    reader = KnowledgeBase.open(tmp_path / "kb", read_only=True, auto_refresh=False)
    before = reader.retriever("keyword")
    kb.upsert([Document("c", "solar and wind farms", {"lang": "en"})])
    kb.commit()
    # the reader's generation is untouched by the commit (its collection is not the new one) ...
    assert [h.document_id for h in before.retrieve("solar", k=5)] == ["a", "b"]
    reader.refresh()  # ... and the next generation is loaded from what its folder names
    assert sorted(h.document_id for h in before.retrieve("solar", k=5)) == ["a", "b", "c"]
    reader.close()
    kb.close()
    reopened = KnowledgeBase.open(tmp_path / "kb")  # the server is in the base's settings
    assert sorted(h.document_id for h in reopened.retriever("keyword").retrieve("wind", k=5)) == ["c"]
    reopened.close()
    with pytest.raises(InvalidInputError, match="settings are fixed"):
        KnowledgeBase.open(tmp_path / "kb", indexes={"keywords": {"server": "elsewhere.sqlite"}})


def test_index_settings_choose_the_kinds_and_are_checked(keyword_kind, tmp_path):
    plain = KnowledgeBase.open(tmp_path / "plain")
    assert plain.index_kinds == ("bm25",) and "indexes" not in plain.settings
    with pytest.raises(InvalidInputError, match="unregistered index kinds \\['milvus'\\]"):
        KnowledgeBase.open(tmp_path / "other", indexes={"milvus": {}})
    with pytest.raises(InvalidInputError, match="must be JSON"):
        KnowledgeBase.open(tmp_path / "other", indexes={"keywords": {"server": object()}})
    assert not (tmp_path / "other").exists()  # a refused first open leaves nothing behind


def test_registration_refuses_what_is_not_an_index():
    class NoKind(IndexBase):
        pass

    class Partial:
        kind = "partial"

        def save(self, directory):
            return []

    with pytest.raises(InvalidInputError, match="kind"):
        register_index(NoKind)
    with pytest.raises(InvalidInputError, match="missing"):
        register_index(Partial)
    assert "partial" not in INDEX_KINDS


def test_the_catalog_says_what_is_wrong(tmp_path):
    kb = KnowledgeBase.open(tmp_path / "kb")
    kb.upsert([Document("a", "solar panels")])
    kb.commit()
    assert CATALOG.available(kb) == ("bm25", "routed")
    assert CATALOG.available(kb, routes_only=True) == ("bm25",)
    with pytest.raises(InvalidInputError, match="unknown retriever 'bm26'; use one of bm25, dense"):
        kb.retriever("bm26")
    with pytest.raises(InvalidInputError, match="takes no option depth; its options are name, statistics"):
        kb.retriever("bm25", depth=3)
    with pytest.raises(InvalidInputError, match="needs reranker"):
        kb.retriever("reranked")
    with pytest.raises(MissingIndexError, match="has no dense index"):
        kb.retriever("dense").retrieve("solar")
    with pytest.raises(MissingIndexError, match="has no knowledge graph"):
        kb.retriever("graph").retrieve("solar")
    assert CATALOG.needs("iterative", "graph+hybrid") == {"bm25", "vectors", "graph"}
    assert CATALOG.wants("routed") >= {"vectors", "graph"} and CATALOG.needs("routed") == {"bm25"}


def test_the_graph_index_searches_from_restart_weights(tmp_path):
    kb = KnowledgeBase.open(tmp_path / "kb", graph=True)
    kb.upsert([Document("film", "Kiss and Tell is a 1945 film starring Shirley Temple.", {"lang": "en"}),
               Document("st", "Shirley Temple later served as Chief of Protocol.", {"lang": "de"}),
               Document("other", "Cats purr when they are content.", {"lang": "en"})])
    kb.commit()
    snap = kb.searchable_snapshot()
    graph = snap.index("graph")
    shared = [n for n in graph.kg.graph.nodes if n.startswith("e:") and "temple" in n][0]
    rows, scores = graph.search([{shared: 1.0}], k=5)[0]
    found = {c.document_id for c in kb.store.chunks_by_row(rows.tolist()).values()}
    assert found == {"film", "st"} and np.all(np.diff(scores) <= 0)
    rows, _ = graph.search([{shared: 1.0}], k=5, allowed_rows=snap.allowed_rows({"lang": "de"}))[0]
    assert {c.document_id for c in kb.store.chunks_by_row(rows.tolist()).values()} == {"st"}
    with pytest.raises(InvalidInputError, match="not in this graph"):
        graph.search([{"e:nobody": 1.0}], k=5)
    assert kb.describe()["indexes"]["graph"]["unit"] == "entities"
