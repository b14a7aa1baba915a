from langchain_rag_plugins.compressors import RagPluginsReranker
from langchain_rag_plugins.convert import documents_to_hits, hit_to_document
from langchain_rag_plugins.graph import ChatModelTripleExtractor
from langchain_rag_plugins.retrievers import RagPluginsRetriever

__all__ = ["ChatModelTripleExtractor", "RagPluginsReranker", "RagPluginsRetriever", "documents_to_hits",
           "hit_to_document"]
