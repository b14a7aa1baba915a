"""The complete retriever catalog.

:data:`CATALOG` (defined in :mod:`rag_plugins.retrievers.catalog`) holds the single-index
kinds and their fusions; the kinds that wrap another retriever register from their own
packages, imported here. Importing :mod:`rag_plugins` imports this module, which also
installs the catalog as the one :meth:`KnowledgeBase.retriever` asks (the store imports no
retriever).
"""

# in the order the catalog lists them
from rag_plugins.routing import routed as _routed  # noqa: F401  isort: skip (registers "routed")
from rag_plugins.rerank import reranked as _reranked  # noqa: F401  isort: skip (registers "reranked")
from rag_plugins.confidence import abstention as _abstention  # noqa: F401  isort: skip (registers "abstaining")
from rag_plugins.iterative import retriever as _iterative  # noqa: F401  isort: skip (registers "iterative")
from rag_plugins.retrievers.catalog import CATALOG, RetrieverCatalog, RetrieverKind, register_retriever, route_options
from rag_plugins.store.knowledge_base import KnowledgeBase

KnowledgeBase.catalog = CATALOG

__all__ = ["CATALOG", "RetrieverCatalog", "RetrieverKind", "register_retriever", "route_options"]
