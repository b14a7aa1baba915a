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
