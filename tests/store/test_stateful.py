"""The knowledge base against a dictionary: any sequence of upsert, delete, commit,
rollback, reopen and search agrees with a simple in-memory model (hypothesis)."""

import shutil
import tempfile

import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from rag_plugins import Document, KnowledgeBase
from rag_plugins.errors import EmptyIndexError
from rag_plugins.text.analysis import Analyzer

IDS = st.sampled_from(["a", "b", "c", "d", "e"])
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
TEXTS = st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(" ".join)


class KnowledgeBaseMachine(RuleBasedStateMachine):
    @initialize()
    def open_base(self):
        self.dir = tempfile.mkdtemp()
        self.kb = KnowledgeBase.open(self.dir, show_progress=False)
        self.reader = KnowledgeBase.open(self.dir, read_only=True)
        self.committed: dict[str, tuple[str, dict]] = {}
        self.staged: dict[str, tuple[str, dict] | None] = {}
        self.generation = 0

    @rule(doc_id=IDS, text=TEXTS, tag=st.sampled_from(["x", "y"]))
    def upsert(self, doc_id, text, tag):
        self.kb.upsert([Document(doc_id, text, {"tag": tag})])
        if self.committed.get(doc_id) == (text, {"tag": tag}):
            self.staged.pop(doc_id, None)  # unchanged content stages nothing
        else:
            self.staged[doc_id] = (text, {"tag": tag})

    @rule(doc_id=IDS)
    def delete(self, doc_id):
        self.kb.delete([doc_id], missing_ok=True)
        if doc_id in self.committed:
            self.staged[doc_id] = None
        else:
            self.staged.pop(doc_id, None)

    @rule()
    def commit(self):
        result = self.kb.commit()
        if self.staged:
            self.generation += 1
            for doc_id, value in self.staged.items():
                if value is None:
                    self.committed.pop(doc_id, None)
                else:
                    self.committed[doc_id] = value
        self.staged.clear()
        assert result.generation == self.generation

    @rule()
    def rollback(self):
        self.kb.rollback()
        self.staged.clear()

    @rule()
    def reopen(self):
        self.kb.close()
        self.kb = KnowledgeBase.open(self.dir, show_progress=False)
        self.staged.clear()

    @precondition(lambda self: self.generation > 0)
    @rule(word=st.sampled_from(WORDS), tag=st.sampled_from([None, "x", "y"]))
    def search(self, word, tag):
        filters = {"tag": tag} if tag else None
        analyze = Analyzer().tokenize  # the base's default analyzer
        (term,) = analyze(word)
        expected = {i for i, (text, meta) in self.committed.items()
                    if term in analyze(text) and (tag is None or meta["tag"] == tag)}
        for kb in (self.kb, self.reader):  # the reader follows the writer by itself
            try:
                hits = kb.bm25_retriever().retrieve(word, k=50, filters=filters)
            except EmptyIndexError:
                assert not self.committed
                continue
            except Exception as exc:  # a filter on a tag no live chunk has
                assert "no chunk has the metadata field" in str(exc) and not expected
                continue
            assert {h.chunk.document_id for h in hits if h.score > 0} == expected
            assert kb.generation == self.generation

    @invariant()
    def documents_match(self):
        if not hasattr(self, "kb"):
            return
        assert self.kb.document_ids() == sorted(self.committed)
        for doc_id, (text, meta) in self.committed.items():
            assert (self.kb.get(doc_id).text, dict(self.kb.get(doc_id).metadata)) == (text, meta)
        assert self.kb.has_pending_changes == bool(self.staged)

    def teardown(self):
        if hasattr(self, "kb"):
            self.kb.close()
            self.reader.close()
            shutil.rmtree(self.dir, ignore_errors=True)


KnowledgeBaseMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)


@pytest.mark.slow
class TestKnowledgeBaseAgainstAModel(KnowledgeBaseMachine.TestCase):
    pass
