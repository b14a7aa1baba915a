"""Dense embeddings from a sentence-transformers model."""

from __future__ import annotations

import hashlib
from typing import Any, Sequence

import numpy as np

from rag_plugins._deps import require
from rag_plugins._device import LazyModel
from rag_plugins.embeddings.validation import check_embeddings

DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


class SentenceTransformerEmbedder(LazyModel):
    """Encode texts with a sentence-transformers model, batched and (by default) normalised.

    The model loads on first use (or :meth:`warm_up`). Queries and documents go through
    ``encode_query`` / ``encode_document``, so models with prompts (E5, BGE, ...) get them.
    ``fingerprint`` hashes the architecture and a sample of every weight tensor, so two
    models with the same dimension are still told apart.

    >>> embedder = SentenceTransformerEmbedder("sentence-transformers/all-MiniLM-L6-v2")
    >>> embedder.embed_queries(["what is BM25?"]).shape  # doctest: +SKIP
    (1, 384)
    """

    def __init__(
        self,
        model_name_or_path: str = DEFAULT_EMBEDDING_MODEL,
        *,
        device: str | None = None,
        batch_size: int = 64,
        normalize: bool = True,
        revision: str | None = None,
        max_seq_length: int | None = None,
        show_progress: bool | None = None,
        model_kwargs: dict[str, Any] | None = None,
    ):
        super().__init__(device)
        self.model_id = str(model_name_or_path)
        self.batch_size = batch_size
        self._normalize = normalize
        self.revision = revision
        self._max_seq_length = max_seq_length
        self.show_progress = show_progress
        self.model_kwargs = model_kwargs or {}
        self._fingerprint: str | None = None

    def _load(self, device: str) -> Any:
        st = require("sentence_transformers", "Dense embeddings")
        model = st.SentenceTransformer(self.model_id, device=device, revision=self.revision, **self.model_kwargs)
        if self._max_seq_length:
            model.max_seq_length = self._max_seq_length
        return model

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def normalize(self) -> bool:
        return self._normalize

    @property
    def max_seq_length(self) -> int | None:
        return self.model.max_seq_length

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            torch = require("torch", "Dense embeddings")
            digest = hashlib.sha256(f"{self.model!r}|{self.model.max_seq_length}".encode())
            with torch.no_grad():
                for name, tensor in sorted(self.model.state_dict().items()):
                    sample = tensor.detach().flatten()[:4096].to("cpu", torch.float32).numpy()
                    digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
                    digest.update(sample.tobytes())
            self._fingerprint = digest.hexdigest()[:32]
        return self._fingerprint

    def count_tokens(self, text: str) -> int:
        """Length of ``text`` in the model's tokens, special tokens excluded."""
        return len(self.model.tokenizer(text, add_special_tokens=False)["input_ids"])

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.model.encode_document, bool(self.show_progress))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.model.encode_query, False)

    def _encode(self, texts: Sequence[str], encode: Any, show: bool) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        out = encode(texts, batch_size=self.batch_size, normalize_embeddings=self.normalize,
                     convert_to_numpy=True, show_progress_bar=show)
        return check_embeddings(out, len(texts), None, self.model_id)
