from llama_index.retrievers.rag_plugins.base import (
    RagPluginsRetriever,
    SearchTraceEvent,
    hit_to_node,
    nodes_to_hits,
    search_to_nodes,
)
from llama_index.retrievers.rag_plugins.graph import LLMTripleExtractorForLlamaIndex
from llama_index.retrievers.rag_plugins.iterative import (
    AnswerProvenanceEvent,
    IterationStepEvent,
    IterativeQueryEngine,
    LlamaIndexGenerator,
    iterative_tool,
)
from llama_index.retrievers.rag_plugins.readers import RagPluginsReader, sync_llama_index_documents
from llama_index.retrievers.rag_plugins.routing import (
    LLMRouterForLlamaIndex,
    RouteDecisionEvent,
    route_tools,
)
from llama_index.retrievers.rag_plugins.tools import (
    RagPluginsRetrieverTool,
    as_llama_index_tools,
    llama_index_tool,
    query_engine_tool,
    retriever_tool,
)

__all__ = [
    "AnswerProvenanceEvent", "IterationStepEvent", "IterativeQueryEngine", "LLMRouterForLlamaIndex", "LLMTripleExtractorForLlamaIndex",
    "LlamaIndexGenerator", "RagPluginsReader", "RagPluginsRetriever", "RagPluginsRetrieverTool", "RouteDecisionEvent",
    "SearchTraceEvent", "as_llama_index_tools", "hit_to_node", "iterative_tool", "llama_index_tool", "nodes_to_hits",
    "query_engine_tool", "retriever_tool", "route_tools", "search_to_nodes", "sync_llama_index_documents",
]
