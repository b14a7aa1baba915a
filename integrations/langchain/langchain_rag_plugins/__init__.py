from langchain_rag_plugins.retrievers import RagPluginsRetriever, hit_to_document

__all__ = ["RagPluginsRetriever", "hit_to_document"]
