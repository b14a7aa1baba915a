import pytest
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.response_synthesizers import get_response_synthesizer
from llama_index.core.schema import NodeWithScore, QueryBundle

from llama_index.retrievers.rag_plugins import RagPluginsRetriever


@pytest.fixture(scope="module")
def kb(adapter_kb):
    return adapter_kb


def test_nodes_carry_scores(kb):
    nodes = RagPluginsRetriever(kb.hybrid_retriever(), similarity_top_k=2).retrieve("how does BM25 rank documents?")
    assert isinstance(nodes[0], NodeWithScore) and nodes[0].node.node_id == "bm25#0"
    meta = nodes[0].node.metadata
    assert nodes[0].score == meta["scores"]["hybrid"] and meta["ranks"]["bm25"] == 1
    assert set(meta["provenance"]) == {"bm25", "dense"}
    assert "scores" not in nodes[0].node.get_content(metadata_mode="llm")  # scores stay out of the prompt


def test_inside_a_retriever_query_engine(kb):
    retriever = RagPluginsRetriever(kb.hybrid_retriever(), similarity_top_k=1, filters={"topic": "food"})
    engine = RetrieverQueryEngine(retriever=retriever, response_synthesizer=get_response_synthesizer(llm=MockLLM()))
    response = engine.query("what goes into sourdough?")
    assert [n.node.metadata["document_id"] for n in response.source_nodes] == ["bread"]
    # the fused score, as the core gives it (z-score fusion: a sole candidate is its own mean, 0)
    core = kb.hybrid_retriever().retrieve("what goes into sourdough?", k=1, filters={"topic": "food"})
    assert response.source_nodes[0].score == core[0].score == core[0].scores["hybrid"]
    assert response.source_nodes[0].node.metadata["scores"]["bm25"] > 0


@pytest.mark.asyncio
async def test_async_path(kb):
    retriever = RagPluginsRetriever(kb.dense_retriever(), similarity_top_k=1)
    nodes = await retriever.aretrieve(QueryBundle("vector similarity search on GPUs"))
    assert nodes[0].node.metadata["document_id"] == "faiss"


def test_graph_retriever_puts_evidence_paths_and_seeds_in_metadata(graph_kb):
    nodes = RagPluginsRetriever(graph_kb.graph_retriever("bfs"), similarity_top_k=2).retrieve("Who starred in Kiss and Tell?")
    assert [n.node.metadata["document_id"] for n in nodes] == ["film", "st"]
    evidence = nodes[1].node.metadata["evidence"]
    assert evidence["paths"] == ["Kiss and Tell (1945 film) → Shirley Temple → [Shirley Temple]"]
    assert evidence["seeds"][0]["how"] == "alias"
    assert "evidence" not in nodes[1].node.get_content(metadata_mode="llm")


def test_bm25_returns_only_nodes_that_share_a_term_never_zero_score_filler(kb):
    retriever = RagPluginsRetriever(kb.bm25_retriever(), similarity_top_k=3)
    assert retriever.retrieve("what is it") == []
    nodes = retriever.retrieve("sourdough starter")
    assert [n.node.metadata["document_id"] for n in nodes] == ["bread"] and nodes[0].score > 0


def test_nodes_carry_the_version_their_chunk_was_cut_from(tmp_path):
    """As in LangChain: the stamp is the chunk's (a reader on generation 1 says version 1),
    kept in metadata but out of what the LLM reads."""
    from rag_plugins import Document, KnowledgeBase

    with KnowledgeBase.open(tmp_path / "kb") as writer:
        writer.upsert([Document("policy", "Refunds are accepted within 30 days.")])
        writer.commit()
        reader = KnowledgeBase.open(tmp_path / "kb", read_only=True, auto_refresh=False)
        writer.upsert([Document("policy", "Refunds are accepted within 14 days.")])
        writer.commit()
        old = RagPluginsRetriever(reader.bm25_retriever(), similarity_top_k=1).retrieve("refunds days")[0].node
        new = RagPluginsRetriever(writer.bm25_retriever(), similarity_top_k=1).retrieve("refunds days")[0].node
        changed_at = writer.document_info("policy")["updated_at"]
        reader.close()
    assert old.metadata["document_version"] == 1 and new.metadata["document_version"] == 2
    assert new.metadata["document_changed_at"] == changed_at > old.metadata["document_changed_at"]
    assert "document_changed_at" not in new.get_content(metadata_mode="llm")
