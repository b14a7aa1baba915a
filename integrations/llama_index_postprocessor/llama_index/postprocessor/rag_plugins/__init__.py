from llama_index.postprocessor.rag_plugins.base import RagPluginsRerank

__all__ = ["RagPluginsRerank"]
