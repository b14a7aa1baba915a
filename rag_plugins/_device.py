"""Which torch device a model runs on when the user does not say, and loading it there once."""

from __future__ import annotations

import threading
from typing import Any

from rag_plugins.errors import NotImplementedByError
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


class LazyModel:
    """A wrapper whose model loads on first use (or :meth:`warm_up`), once, even when
    several threads ask at the same time. Subclasses implement ``_load(device)``."""

    def __init__(self, device: str | None):
        self.device = device
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self, device: str) -> Any:
        raise NotImplementedByError(f"{type(self).__name__} must implement _load(device) -> model")

    def warm_up(self) -> None:
        """Load the model now instead of on the first call."""
        with self._lock:
            if self._model is None:
                device = self.device or pick_device()
                self._model = self._load(device)
                self.device = device

    @property
    def model(self) -> Any:
        if self._model is None:
            self.warm_up()
        return self._model
