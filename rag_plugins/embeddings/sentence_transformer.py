"""Dense embeddings from a sentence-transformers model."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from rag_plugins._deps import require
from rag_plugins._device import LazyModel
from rag_plugins._model_files import check_loadable, configured_embedding_model, model_directory
from rag_plugins._validation import check_text
from rag_plugins.embeddings import fingerprint as fp
from rag_plugins.embeddings import onnx_backend
from rag_plugins.embeddings.validation import check_embeddings
from rag_plugins.errors import InvalidInputError, ModelLoadError

DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


class SentenceTransformerEmbedder(LazyModel):
    """Encode texts with a sentence-transformers model, batched and (by default) normalised.

    The model loads on first use (or :meth:`warm_up`). Queries and documents go through
    ``encode_query`` / ``encode_document``, so models with prompts (E5, BGE, ...) get them.
    ``fingerprint`` (``sha256:...``) hashes the architecture, the vocabulary and every byte
    of every weight tensor, so two models differing in a single weight are told apart; it is
    cached on disk by the model files' identity (see :mod:`rag_plugins.embeddings.fingerprint`).
    ``legacy_fingerprint`` is the sampled form older knowledge bases recorded.

    ``backend`` picks what runs the transformer: ``"torch"`` (default; fp16 on a GPU),
    ``"onnx"`` (ONNX Runtime on the CPU, the same vectors to a cosine of 0.99999) or
    ``"onnx-int8"`` (ONNX Runtime with int8 matrix products: about 2x torch's document
    throughput on a CPU and a quarter of its query latency). ONNX files are exported once
    from the local weights and cached (:mod:`rag_plugins.embeddings.onnx_backend`). The
    fingerprint covers the backend, so a knowledge base never mixes vectors of two backends.

    >>> embedder = SentenceTransformerEmbedder("sentence-transformers/all-MiniLM-L6-v2", backend="onnx-int8")
    >>> embedder.embed_queries(["what is BM25?"]).shape  # doctest: +SKIP
    (1, 384)
    """

    def __init__(
        self,
        model_name_or_path: str | None = None,
        *,
        device: str | None = None,
        batch_size: int | None = None,
        normalize: bool = True,
        revision: str | None = None,
        max_seq_length: int | None = None,
        show_progress: bool | None = None,
        model_kwargs: dict[str, Any] | None = None,
        backend: str = "torch",
    ):
        self.backend = onnx_backend.check_backend(backend, device)
        super().__init__("cpu" if backend != "torch" else device)
        self.model_id = str(model_name_or_path or configured_embedding_model(DEFAULT_EMBEDDING_MODEL))
        self.batch_size = onnx_backend.DEFAULT_BATCH["embedder"][self.backend] if batch_size is None else batch_size
        self._normalize = normalize
        self.revision = revision
        self._max_seq_length = max_seq_length
        self.show_progress = show_progress
        self.model_kwargs = model_kwargs or {}
        self._fingerprint: str | None = None
        self._weights: str | None = None
        self._files_key: dict[str, Any] | None = None

    def _load(self, device: str) -> Any:
        check_loadable(self.model_id, self.revision, "embedding model", "--embedding-model")
        st = require("sentence_transformers", "Dense embeddings")
        self._files_key = self._current_files_key()  # before loading: what the weights came from
        try:
            model = st.SentenceTransformer(self.model_id, device=device, revision=self.revision, **self.model_kwargs)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(
                f"could not load the embedding model {self.model_id!r}: {str(exc).splitlines()[0]}. Pass a "
                "folder holding a saved sentence-transformers model, or a model id that is cached or "
                "downloadable from this machine"
            ) from exc
        if self._max_seq_length:
            model.max_seq_length = self._max_seq_length
        if self.backend != "torch":
            onnx_backend.run_with_onnx(model, self.backend, self._weights_fingerprint(model), "embedding model")
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
        """``sha256:`` + a hash of every byte of the loaded weights (cached on disk), and of
        the backend when it is not torch."""
        if self._fingerprint is None:
            self._fingerprint = onnx_backend.backend_fingerprint(self._weights_fingerprint(self.model), self.backend)
        return self._fingerprint

    def _weights_fingerprint(self, model: Any) -> str:
        if self._weights is None:  # an ONNX backend needs it while loading, the fingerprint again after
            self._weights = fp.cached_fingerprint(self._files_key, lambda: fp.full_fingerprint(model),
                                                  self._current_files_key)
        return self._weights

    @property
    def legacy_fingerprint(self) -> str | None:
        """The sampled fingerprint (first 4,096 elements of each tensor) that knowledge bases
        recorded before ``fingerprint`` hashed every byte; only for recognising those bases,
        all of which were embedded by torch (``None`` for the ONNX backends)."""
        return fp.legacy_fingerprint(self.model) if self.backend == "torch" else None

    def _current_files_key(self) -> dict[str, Any] | None:
        settings = {"model_id": self.model_id, "revision": self.revision,
                    "max_seq_length": self._max_seq_length, "model_kwargs": self.model_kwargs}
        return fp.files_key(model_directory(self.model_id, self.revision), settings)

    def count_tokens(self, text: str) -> int:
        """Length of ``text`` in the model's tokens, special tokens excluded. Texts longer than
        the model's window are measured whole on purpose (the chunker splits them), so the
        tokenizer's "sequence length is longer than the specified maximum" warning is silenced."""
        return len(self.model.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.model.encode_document, bool(self.show_progress))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.model.encode_query, False)

    def _encode(self, texts: Sequence[str], encode: Any, show: bool) -> np.ndarray:
        texts = list(texts)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise InvalidInputError(f"text {i} to embed is a {type(text).__name__}, not a str; pass text")
            check_text(text, f"text {i} to embed")
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        out = encode(texts, batch_size=self.batch_size, normalize_embeddings=self.normalize,
                     convert_to_numpy=True, show_progress_bar=show)
        return check_embeddings(out, len(texts), None, self.model_id, self.normalize)
