from llama_index.retrievers.rag_plugins.base import RagPluginsRetriever, hit_to_node, nodes_to_hits, result_to_nodes
from llama_index.retrievers.rag_plugins.graph import LLMTripleExtractorForLlamaIndex

__all__ = ["LLMTripleExtractorForLlamaIndex", "RagPluginsRetriever", "hit_to_node", "nodes_to_hits",
           "result_to_nodes"]
