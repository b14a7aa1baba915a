from __future__ import annotations

import pytest

from tests.routing.routing_data import CORPUS


@pytest.fixture(scope="session")
def routing_kb(tmp_path_factory, minilm_path):
    """BM25, dense vectors and a knowledge graph over the routing corpus: every route."""
    from rag_plugins import Document, KnowledgeBase

    kb = KnowledgeBase.open(tmp_path_factory.mktemp("routing-kb"), embedder=minilm_path, graph=True,
                            show_progress=False)
    kb.upsert([Document(i, text, {"title": title}) for i, title, text in CORPUS])
    kb.commit()
    return kb
