"""Where a model's files are on this machine, without downloading anything."""

from __future__ import annotations

import os
from pathlib import Path

from rag_plugins.errors import ModelLoadError


def model_directory(model_id: str, revision: str | None = None) -> Path | None:
    """The local folder holding ``model_id``'s files: the path itself, or the Hugging Face
    cache's snapshot of the id; ``None`` when neither exists here.

    >>> import tempfile
    >>> model_directory(tempfile.gettempdir()) == Path(tempfile.gettempdir()).resolve()
    True
    """
    path = Path(model_id).expanduser()
    if path.is_dir():
        return path.resolve()
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model_id, revision=revision, local_files_only=True)).resolve()
    except Exception:  # not cached, a malformed id, no huggingface_hub: nothing local to read
        return None


EMBEDDING_MODEL_ENV = "RAG_PLUGINS_EMBEDDING_MODEL"
RERANK_MODEL_ENV = "RAG_PLUGINS_RERANK_MODEL"
_MODEL_ENV = {"embedding model": EMBEDDING_MODEL_ENV, "cross-encoder": RERANK_MODEL_ENV}


def configured_embedding_model(default: str) -> str:
    """The embedding model to use where the caller names none: ``$RAG_PLUGINS_EMBEDDING_MODEL``
    (an id or a local folder) when set, else ``default``."""
    return os.environ.get(EMBEDDING_MODEL_ENV) or default


def configured_rerank_model(default: str) -> str:
    """The cross-encoder to use where the caller names none: ``$RAG_PLUGINS_RERANK_MODEL``
    when set, else ``default``."""
    return os.environ.get(RERANK_MODEL_ENV) or default


def hub_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` asks the Hugging Face libraries never to reach the hub."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def check_loadable(model_id: str, revision: str | None, what: str, flag: str) -> None:
    """Fail within seconds, with a :class:`ModelLoadError` that says what was tried and
    what to do, when ``model_id`` is not on this machine and cannot be downloaded (the
    libraries themselves retry for minutes, then raise an untyped ``OSError``).

    ``what`` names the model's role ("embedding model"), ``flag`` the CLI option that sets it.
    """
    if model_directory(model_id, revision) is not None:
        return
    tried = (f"{what} {model_id!r} is not a folder on this machine and not in the Hugging Face "
             "cache")
    fix = (f"Point at a local copy of the model: {flag} PATH on the command line, the model path "
           f"in Python, or {_MODEL_ENV[what]}=PATH for the {what}"
           if what in _MODEL_ENV else f"Point at a local copy of the model: {flag} PATH")
    if hub_offline():
        raise ModelLoadError(f"{tried}, and HF_HUB_OFFLINE is set, so it cannot be downloaded. {fix}, "
                             "or unset HF_HUB_OFFLINE where the hub is reachable")
    try:
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HFValidationError, RepositoryNotFoundError
    except ImportError:
        return  # the model library will say what is missing
    try:
        HfApi().model_info(model_id, revision=revision, timeout=10)
    except (HFValidationError, RepositoryNotFoundError) as exc:
        raise ModelLoadError(f"{tried}, and it is not a model id on the Hugging Face hub "
                             f"({type(exc).__name__}). Check the spelling, or: {fix}") from None
    except Exception as exc:  # no network, DNS, proxy, timeout, gated model: the download would fail too
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ModelLoadError(f"{tried}, and the hub cannot be reached to download it ({reason}). {fix}, "
                             "or run where the hub is reachable once to fill the cache") from None
