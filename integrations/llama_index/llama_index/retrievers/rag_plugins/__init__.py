from llama_index.retrievers.rag_plugins.base import RagPluginsRetriever, hit_to_node

__all__ = ["RagPluginsRetriever", "hit_to_node"]
