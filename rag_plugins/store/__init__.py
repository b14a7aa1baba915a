from rag_plugins.store.knowledge_base import CommitResult, KnowledgeBase, UpsertResult

__all__ = ["CommitResult", "KnowledgeBase", "UpsertResult"]
