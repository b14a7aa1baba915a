"""Where a model's files are on this machine, without downloading anything."""

from __future__ import annotations

from pathlib import Path


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
