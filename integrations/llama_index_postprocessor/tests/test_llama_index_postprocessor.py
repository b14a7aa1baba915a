import asyncio
import threading

import pytest
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.response_synthesizers import get_response_synthesizer
from llama_index.core.schema import NodeWithScore, TextNode

from llama_index.postprocessor.rag_plugins import RagPluginsRerank
from llama_index.retrievers.rag_plugins import RagPluginsRetriever
from rag_plugins.confidence import INSUFFICIENT_EVIDENCE, AbstainingRetriever
from rag_plugins.rerank import CrossEncoderReranker
from tests.abstention_data import TOPICS


class KeepOrder:
    """A reranker that keeps the first stage's order: isolates the confidence policy."""

    name = "keep"

    def rerank(self, query, hits, top_n=None):
        return list(hits)[:top_n]


def test_rerank_postprocessor_in_a_query_engine(abstention_kb, tiny_cross_encoder):
    reranker = CrossEncoderReranker(tiny_cross_encoder, device="cpu")
    engine = RetrieverQueryEngine(
        retriever=RagPluginsRetriever(abstention_kb.bm25_retriever(), similarity_top_k=8),
        response_synthesizer=get_response_synthesizer(llm=MockLLM()),
        node_postprocessors=[RagPluginsRerank(reranker, top_n=3)],
    )
    response = engine.query("how tall is the Eiffel Tower")
    direct = reranker.rerank("how tall is the Eiffel Tower",
                             abstention_kb.bm25_retriever().retrieve("how tall is the Eiffel Tower", k=8), top_n=3)
    assert [n.node.node_id for n in response.source_nodes] == [h.chunk.id for h in direct]
    for node, hit in zip(response.source_nodes, direct):
        assert node.score == pytest.approx(hit.score) and node.node.metadata["ranks"]["bm25"] == hit.ranks["bm25"]
        assert set(node.node.metadata["scores"]) == {"bm25", "rerank"}
    again = asyncio.run(engine.aquery("how tall is the Eiffel Tower"))
    assert [n.node.node_id for n in again.source_nodes] == [n.node.node_id for n in response.source_nodes]


def test_foreign_nodes_keep_their_document_and_metadata(tiny_cross_encoder):
    nodes = [NodeWithScore(node=TextNode(id_=f"n{i}", text=t, metadata={"source": k}), score=1.0 / (i + 1))
             for i, (k, t) in enumerate(TOPICS.items())]
    out = RagPluginsRerank(CrossEncoderReranker(tiny_cross_encoder, device="cpu"), top_n=2).postprocess_nodes(
        nodes, query_str="largest planet")
    assert len(out) == 2 and {"source", "scores"} <= set(out[0].node.metadata)
    assert set(out[0].node.metadata["scores"]) == {"input", "rerank"} and nodes[0].node.metadata == {"source": "eiffel"}
    with pytest.raises(ValueError):
        RagPluginsRerank(KeepOrder()).postprocess_nodes(nodes)


def test_abstention_in_the_retriever_and_the_postprocessor(abstention_kb, abstention_estimator):
    guarded = RagPluginsRetriever(AbstainingRetriever(abstention_kb.bm25_retriever(), abstention_estimator), similarity_top_k=10)
    answered = guarded.retrieve("how tall is the Eiffel Tower")
    assert answered[0].node.metadata["document_id"] == "eiffel" and answered[0].node.metadata["abstained"] is False
    refused = guarded.retrieve("chess opening theory")
    assert len(refused) == 1 and refused[0].node.get_content() == INSUFFICIENT_EVIDENCE
    assert refused[0].node.metadata["abstained"] is True

    engine = RetrieverQueryEngine(
        retriever=RagPluginsRetriever(abstention_kb.bm25_retriever(), similarity_top_k=10),
        response_synthesizer=get_response_synthesizer(llm=MockLLM()),
        node_postprocessors=[RagPluginsRerank(KeepOrder(), top_n=10, confidence=abstention_estimator)],
    )
    response = engine.query("chess opening theory")
    assert [n.node.metadata["abstained"] for n in response.source_nodes] == [True]
    assert INSUFFICIENT_EVIDENCE in response.source_nodes[0].node.get_content(metadata_mode="llm")
    ok = asyncio.run(engine.aquery("how tall is the Eiffel Tower"))
    assert ok.source_nodes[0].node.metadata["document_id"] == "eiffel"
    assert ok.source_nodes[0].node.metadata["status"] in ("healthy", "ambiguous")


@pytest.mark.asyncio
async def test_concurrent_postprocessing_overlaps_in_async_query_engines(abstention_kb, tiny_cross_encoder):
    from tests.concurrency import Rendezvous, RendezvousReranker

    meeting = Rendezvous(parties=2)
    rerank = RagPluginsRerank(RendezvousReranker(CrossEncoderReranker(tiny_cross_encoder, device="cpu"), meeting),
                              top_n=2)
    engine = RetrieverQueryEngine(retriever=RagPluginsRetriever(abstention_kb.bm25_retriever(), similarity_top_k=5),
                                  node_postprocessors=[rerank],
                                  response_synthesizer=get_response_synthesizer(llm=MockLLM()))
    answers = await asyncio.gather(engine.aquery("the Eiffel Tower or the longest river"),
                                   engine.aquery("the highest mountain or the largest planet"))
    assert all(len(a.source_nodes) == 2 and "rerank" in a.source_nodes[0].node.metadata["scores"] for a in answers)
    assert threading.get_ident() not in meeting.threads
