"""Which torch device a model runs on when the user does not say."""

from __future__ import annotations

from rag_plugins._deps import require


def pick_device() -> str:
    """CUDA when torch sees a GPU, then Apple MPS, else CPU."""
    torch = require("torch", "Neural models")
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"
