from rag_plugins.embeddings.sentence_transformer import SentenceTransformerEmbedder

__all__ = ["SentenceTransformerEmbedder"]
