from llama_index.retrievers.rag_plugins.base import RagPluginsRetriever, hit_to_node, nodes_to_hits, result_to_nodes

__all__ = ["RagPluginsRetriever", "hit_to_node", "nodes_to_hits", "result_to_nodes"]
