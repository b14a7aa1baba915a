from langchain_rag_plugins.compressors import RagPluginsReranker
from langchain_rag_plugins.convert import documents_to_hits, hit_to_document
from langchain_rag_plugins.graph import ChatModelTripleExtractor
from langchain_rag_plugins.iterative import (
    PROVENANCE_EVENT,
    STEP_EVENT,
    IterativeRetrievalRunnable,
    LangChainGenerator,
    LangChainRetrieverAdapter,
    iterative_tool,
)
from langchain_rag_plugins.loaders import RagPluginsLoader, sync_langchain_documents
from langchain_rag_plugins.retrievers import ROUTE_EVENT, RagPluginsRetriever
from langchain_rag_plugins.routing import ChatModelRouter, route_tools
from langchain_rag_plugins.tools import as_langchain_tools, langchain_tool

__all__ = ["PROVENANCE_EVENT", "ROUTE_EVENT", "STEP_EVENT", "ChatModelRouter", "ChatModelTripleExtractor", "IterativeRetrievalRunnable",
           "LangChainGenerator", "LangChainRetrieverAdapter", "RagPluginsLoader", "RagPluginsReranker", "RagPluginsRetriever",
           "as_langchain_tools", "documents_to_hits", "hit_to_document", "iterative_tool", "langchain_tool", "route_tools",
           "sync_langchain_documents"]
