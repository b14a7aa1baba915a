"""Rescore retrieved hits with a cross-encoder (sentence-transformers ``CrossEncoder``)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from rag_plugins._deps import require
from rag_plugins._device import LazyModel
from rag_plugins._model_files import check_loadable, configured_rerank_model, model_directory
from rag_plugins._validation import check_k, check_query
from rag_plugins.embeddings import fingerprint as fp
from rag_plugins.embeddings import onnx_backend
from rag_plugins.errors import InvalidInputError, ModelLoadError
from rag_plugins.rerank.head import check_trained_head
from rag_plugins.rerank.hits import check_hits, rescored
from rag_plugins.types import Hit

DEFAULT_RERANK_MODEL = "cross-encoder/ms-marco-MiniLM-L-6-v2"


class CrossEncoderReranker(LazyModel):
    """Rescore the top hits of any retriever by reading query and passage together.

    A bi-encoder or BM25 score says a passage is *near* the query; a cross-encoder reads
    both at once and says whether the passage answers it. ``rerank`` returns new hits
    ordered by the cross-encoder's raw score (a logit: higher is more relevant), each
    keeping every earlier score and rank and adding ``scores[name]`` / ``ranks[name]``.
    The input list is never mutated.

    The model loads on first use: CUDA (in fp16) when available, else MPS or CPU. Pairs are
    scored in batches sorted by length, so short passages are not padded to long ones;
    ``batch_rerank`` pools the pairs of many queries into one sorted pass. ``backend``
    ``"onnx"`` or ``"onnx-int8"`` runs the model through ONNX Runtime on the CPU
    (exported once from the local weights, see :mod:`rag_plugins.embeddings.onnx_backend`).
    Passages are read with their title and heading path (:attr:`Chunk.contextual_text`) unless
    ``use_context=False``. A model that is not a cross-encoder (an embedding model, whose
    relevance head would be created with random weights) is refused with ``ModelLoadError``.
    With no model named: ``$RAG_PLUGINS_RERANK_MODEL`` (an id or a folder) when set, else
    cross-encoder/ms-marco-MiniLM-L-6-v2.

    >>> from rag_plugins import Chunk, Hit
    >>> reranker = CrossEncoderReranker("cross-encoder/ms-marco-MiniLM-L-6-v2")
    >>> hits = [Hit(Chunk("a#0", "a", "Paris is the capital of France.", 0), 0.2),
    ...         Hit(Chunk("b#0", "b", "Bananas are yellow.", 0), 0.9)]
    >>> [h.document_id for h in reranker.rerank("capital of France", hits)]  # doctest: +SKIP
    ['a', 'b']
    """

    def __init__(
        self,
        model_name_or_path: str | None = None,
        *,
        device: str | None = None,
        max_length: int | None = 512,
        batch_size: int | None = None,
        fp16: bool | None = None,
        use_context: bool = True,
        revision: str | None = None,
        name: str = "rerank",
        show_progress: bool = False,
        model_kwargs: dict[str, Any] | None = None,
        backend: str = "torch",
    ):
        if model_name_or_path is None:
            model_name_or_path = configured_rerank_model(DEFAULT_RERANK_MODEL)
        if not isinstance(model_name_or_path, str) or not model_name_or_path.strip():
            raise InvalidInputError("model_name_or_path must be a model id or a local folder path")
        self.backend = onnx_backend.check_backend(backend, device)
        if fp16 and backend != "torch":
            raise InvalidInputError(f"fp16 is for torch on a GPU; the {backend} backend runs on the CPU: drop fp16")
        super().__init__("cpu" if backend != "torch" else device)
        self.model_id = model_name_or_path
        self.max_length = None if max_length is None else check_k(max_length, "max_length")
        default_batch = onnx_backend.DEFAULT_BATCH["cross-encoder"][self.backend]
        self.batch_size = check_k(default_batch if batch_size is None else batch_size, "batch_size")
        self.fp16 = fp16
        self.use_context = use_context
        self.revision = revision
        self.name = name
        self.show_progress = show_progress
        self.model_kwargs = dict(model_kwargs or {})

    # loading ----------------------------------------------------------------------------
    def _load(self, device: str) -> Any:
        check_loadable(self.model_id, self.revision, "cross-encoder", "--rerank")
        st = require("sentence_transformers", "Cross-encoder reranking")
        torch = require("torch", "Cross-encoder reranking")
        directory = model_directory(self.model_id, self.revision)
        settings = {"model_id": self.model_id, "revision": self.revision, "role": "cross-encoder"}
        files_key = fp.files_key(directory, settings) if self.backend != "torch" else None  # before loading
        try:
            model = st.CrossEncoder(self.model_id, device=device, revision=self.revision,
                                    max_length=self.max_length, activation_fn=torch.nn.Identity(),
                                    model_kwargs=self.model_kwargs or None)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(
                f"could not load the cross-encoder {self.model_id!r}: {exc}. Pass a local folder "
                "holding a saved CrossEncoder (e.g. from `rag-plugins train-reranker`) or a model id "
                "that is in the Hugging Face cache or downloadable from this machine."
            ) from exc
        if model.num_labels != 1:
            raise ModelLoadError(
                f"{self.model_id!r} has {model.num_labels} output labels; a reranker needs a "
                "single relevance score (num_labels=1)"
            )
        check_trained_head(model, self.model_id, directory)
        if self.fp16 if self.fp16 is not None else str(device).startswith("cuda"):
            model.half()
        if self.backend != "torch":
            weights = fp.cached_fingerprint(files_key, lambda: fp.full_fingerprint(model),
                                            lambda: fp.files_key(directory, settings))
            onnx_backend.run_with_onnx(model, self.backend, weights, "cross-encoder")
        return model

    # scoring ----------------------------------------------------------------------------
    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Raw relevance scores (logits) for (query, passage) pairs, in input order."""
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        scores = self.model.predict(list(pairs), batch_size=self.batch_size, convert_to_numpy=True,
                                    show_progress_bar=self.show_progress)
        scores = np.asarray(scores, dtype=np.float32).reshape(-1)
        if not np.isfinite(scores).all():
            raise InvalidInputError(
                f"the cross-encoder {self.model_id!r} returned NaN or infinite scores; in fp16 this "
                "means overflow: pass fp16=False"
            )
        return scores

    def passage(self, hit: Hit) -> str:
        return hit.chunk.contextual_text if self.use_context else hit.chunk.text

    def rerank(self, query: str, hits: Sequence[Hit], top_n: int | None = None) -> list[Hit]:
        """Rescore ``hits`` for ``query``; return the best ``top_n`` (all by default)."""
        return self.batch_rerank([query], [hits], top_n)[0]

    def batch_rerank(
        self, queries: Sequence[str], hits: Sequence[Sequence[Hit]], top_n: int | None = None
    ) -> list[list[Hit]]:
        """Rerank many queries' hits in one length-sorted pass over all their pairs."""
        if len(queries) != len(hits):
            raise InvalidInputError(f"got {len(queries)} queries but {len(hits)} hit lists; pass one list per query")
        for q in queries:
            check_query(q)
        if top_n is not None:
            top_n = check_k(top_n, "top_n")
        lists = [check_hits(h) for h in hits]
        pairs = [(q, self.passage(h)) for q, hs in zip(queries, lists) for h in hs]
        scores = self.score_pairs(pairs)
        out, start = [], 0
        for hs in lists:
            out.append(rescored(hs, scores[start : start + len(hs)], self.name, top_n))
            start += len(hs)
        return out

    def __repr__(self) -> str:
        return f"CrossEncoderReranker({self.model_id!r}, device={self.device!r}, max_length={self.max_length})"
