import pytest
from langchain_core.documents import Document as LCDocument
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough

from langchain_rag_plugins import RagPluginsRetriever


@pytest.fixture(scope="module")
def kb(adapter_kb):
    return adapter_kb


def test_documents_carry_scores_ranks_and_provenance(kb):
    retriever = RagPluginsRetriever(retriever=kb.hybrid_retriever(), k=2)
    docs = retriever.invoke("how does BM25 rank documents?")
    assert isinstance(docs[0], LCDocument) and docs[0].id == "bm25#0"
    meta = docs[0].metadata
    assert meta["document_id"] == "bm25" and meta["score"] == meta["scores"]["hybrid"]
    assert set(meta["provenance"]) == {"bm25", "dense"} and meta["ranks"]["bm25"] == 1
    assert len(docs) == 2
    assert [d.metadata["document_id"] for d in retriever.invoke("flour", k=1, filters={"topic": "food"})] == ["bread"]


def test_inside_an_lcel_chain(kb):
    retriever = RagPluginsRetriever(retriever=kb.hybrid_retriever(), k=1)
    model = FakeListChatModel(responses=["Sourdough uses a starter."])
    prompt = ChatPromptTemplate.from_messages([("system", "Context:\n{context}"), ("human", "{question}")])
    seen = {}

    def format_docs(docs):
        seen["context"] = "\n".join(d.page_content for d in docs)
        return seen["context"]

    chain = {"context": retriever | format_docs, "question": RunnablePassthrough()} | prompt | model | StrOutputParser()
    assert chain.invoke("what goes into sourdough bread?") == "Sourdough uses a starter."
    assert "starter" in seen["context"]


@pytest.mark.asyncio
async def test_async_path(kb):
    retriever = RagPluginsRetriever(retriever=kb.bm25_retriever(), k=1)
    docs = await retriever.ainvoke("dense vectors GPU")
    assert docs[0].metadata["document_id"] == "faiss" and docs[0].metadata["scores"]["bm25"] > 0


def test_graph_retriever_puts_evidence_paths_and_seeds_in_metadata(graph_kb):
    retriever = RagPluginsRetriever(retriever=graph_kb.graph_retriever("bfs"), k=2)
    docs = retriever.invoke("Who starred in Kiss and Tell?")
    assert [d.metadata["document_id"] for d in docs] == ["film", "st"]
    assert docs[1].metadata["evidence"]["paths"] == ["Kiss and Tell (1945 film) → Shirley Temple → [Shirley Temple]"]
    assert docs[1].metadata["evidence"]["seeds"][0]["entity"] == "Kiss and Tell (1945 film)"


def test_bm25_returns_only_documents_that_share_a_term_never_zero_score_filler(kb):
    retriever = RagPluginsRetriever(retriever=kb.bm25_retriever(), k=3)
    assert retriever.invoke("what is it") == []
    docs = retriever.invoke("sourdough starter")
    assert [d.metadata["document_id"] for d in docs] == ["bread"] and docs[0].metadata["scores"]["bm25"] > 0


def test_documents_carry_the_version_their_chunk_was_cut_from(tmp_path):
    """A reader still on generation 1 returns version 1's text and says so, though the
    document is at version 2 by then: the stamp comes from the chunk, not the document now."""
    from rag_plugins import Document, KnowledgeBase

    with KnowledgeBase.open(tmp_path / "kb") as writer:
        writer.upsert([Document("policy", "Refunds are accepted within 30 days.")])
        writer.commit()
        reader = KnowledgeBase.open(tmp_path / "kb", read_only=True, auto_refresh=False)
        writer.upsert([Document("policy", "Refunds are accepted within 14 days.")])
        writer.commit()
        old = RagPluginsRetriever(retriever=reader.bm25_retriever(), k=1).invoke("refunds days")[0]
        new = RagPluginsRetriever(retriever=writer.bm25_retriever(), k=1).invoke("refunds days")[0]
        changed_at = writer.document_info("policy")["updated_at"]
        reader.close()
    assert "30 days" in old.page_content and old.metadata["document_version"] == 1
    assert "14 days" in new.page_content and new.metadata["document_version"] == 2
    assert new.metadata["document_changed_at"] == changed_at
    assert old.metadata["document_changed_at"] < new.metadata["document_changed_at"]
