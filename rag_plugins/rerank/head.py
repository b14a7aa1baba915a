"""Refusing a model whose relevance head would be created at load, with random weights.

sentence-transformers loads any checkpoint as a ``CrossEncoder``: given a bi-encoder (an
embedding model) it adds a fresh classification head and scores with it, which is noise.
The head is whatever the loaded model holds outside its base model (``classifier.*`` for
BERT); if the checkpoint has no weights under those names, the head is new.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rag_plugins.errors import ModelLoadError

SUGGESTION = ("Pass a cross-encoder instead (e.g. 'cross-encoder/ms-marco-MiniLM-L-6-v2', or a folder written "
              "by `rag-plugins train-reranker`); an embedding model belongs in the knowledge base's embedder")


def check_trained_head(model: Any, model_id: str, directory: Path | None) -> None:
    """Raise :class:`ModelLoadError` when ``model`` (a loaded ``CrossEncoder``) has a head
    that its checkpoint in ``directory`` holds no weights for. Without safetensors files to
    read, the config's ``architectures`` decide: a sequence classifier passes."""
    if directory is None:
        return
    hf = getattr(model, "transformers_model", None) or getattr(model, "model", None)
    prefix = getattr(hf, "base_model_prefix", "")
    if hf is None or not prefix:
        return
    head = [key for key in hf.state_dict() if not key.startswith(prefix + ".")]
    stored = _checkpoint_keys(directory)
    if stored is None:
        architectures = _architectures(directory)
        if architectures and not any(a.endswith("ForSequenceClassification") for a in architectures):
            raise ModelLoadError(
                f"{model_id!r} is not a cross-encoder: its config names architectures {architectures}, not a "
                f"sequence classifier, so loading it created {type(hf).__name__}'s head with random weights "
                f"and its scores would be noise. {SUGGESTION}"
            )
        return
    missing = [key for key in head if key not in stored]
    if missing:
        raise ModelLoadError(
            f"{model_id!r} is not a cross-encoder: its checkpoint has no weights for the relevance head "
            f"{missing} of {type(hf).__name__} (config architectures: {_architectures(directory)}), so "
            f"that head was created with random weights and its scores would be noise. {SUGGESTION}"
        )


def _checkpoint_keys(directory: Path) -> set[str] | None:
    files = sorted(directory.rglob("*.safetensors"))
    if not files:
        return None
    from safetensors import safe_open

    keys: set[str] = set()
    try:
        for file in files:
            with safe_open(str(file), "np") as fh:
                keys.update(fh.keys())
    except Exception:  # an unreadable header: fall back to the config
        return None
    return keys


def _architectures(directory: Path) -> list[str]:
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return list(config.get("architectures") or []) if isinstance(config, dict) else []
