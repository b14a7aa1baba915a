from __future__ import annotations

import pytest

from tests.iterative.multihop_data import build_kb


@pytest.fixture(scope="module")
def multihop_kb(tmp_path_factory):
    """BM25 over the two-hop world (no embedder: retrieval needs none)."""
    return build_kb(tmp_path_factory.mktemp("multihop-kb"))
