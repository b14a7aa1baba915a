"""LangChain's own conformance suite (``langchain-tests`` ``RetrieversIntegrationTests``)
for every rag-plugins retriever behind ``RagPluginsRetriever``."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import RetrieversIntegrationTests

from langchain_rag_plugins import RagPluginsRetriever
from rag_plugins.catalog import CATALOG

# names three chunks' terms, so every kind (BM25 too, whose hits share a term with the query) has k=3 hits
QUERY = "How did Shirley Temple, the star of Kiss and Tell, become Chief of Protocol?"


def core_retriever(kind: str, kb: Any, cross_encoder: str, estimator: Any) -> Any:
    """The catalog's ``kind``, given what the kinds that wrap a retriever must be handed."""
    from rag_plugins.rerank import CrossEncoderReranker

    supplied = {
        "reranked": {"reranker": CrossEncoderReranker(cross_encoder, device="cpu"), "depth": 10},
        "abstaining": {"estimator": estimator, "abstain_below": 0.0},
        "iterative": {"iterations": 2},
    }
    return CATALOG.build(kind, kb, **supplied.get(kind, {}))


KINDS = list(CATALOG.names)


class TestEveryRetriever(RetrieversIntegrationTests):
    """The standard suite, run once per retriever kind (the autouse fixture's params)."""

    pytestmark = pytest.mark.anyio  # the suite's async test carries no marker of its own

    @pytest.fixture(autouse=True, params=KINDS)
    def _core(self, request, routing_kb, tiny_cross_encoder, abstention_estimator) -> None:
        self.core = core_retriever(request.param, routing_kb, tiny_cross_encoder, abstention_estimator)

    @property
    def retriever_constructor(self) -> type[RagPluginsRetriever]:
        return RagPluginsRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"retriever": self.core, "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return QUERY

    async def test_ainvoke_honours_k_and_filters(self, retriever: RagPluginsRetriever) -> None:
        assert len(await retriever.ainvoke(QUERY, k=3)) == 3
        docs = await retriever.ainvoke(QUERY, k=3, filters={"document_id": {"$in": ["g1", "g2"]}})
        assert docs and {d.metadata["document_id"] for d in docs} <= {"g1", "g2"}
