from llama_index.retrievers.rag_plugins.base import RagPluginsRetriever, hit_to_node, nodes_to_hits, result_to_nodes
from llama_index.retrievers.rag_plugins.graph import LLMTripleExtractorForLlamaIndex
from llama_index.retrievers.rag_plugins.iterative import (
    IterationStepEvent, IterativeQueryEngine, LlamaIndexGenerator, iterative_tool,
)
from llama_index.retrievers.rag_plugins.routing import LLMRouterForLlamaIndex, RouteDecisionEvent, route_tools

__all__ = ["IterationStepEvent", "IterativeQueryEngine", "LLMRouterForLlamaIndex", "LlamaIndexGenerator", "LLMTripleExtractorForLlamaIndex", "RagPluginsRetriever", "RouteDecisionEvent",
           "hit_to_node", "iterative_tool", "nodes_to_hits", "result_to_nodes", "route_tools"]
