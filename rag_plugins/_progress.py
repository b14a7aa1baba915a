"""Progress bars (tqdm), shown on a terminal and silenced on request."""

from __future__ import annotations

import os
from typing import Any


def progress_bar(total: int | None, desc: str, show: bool | None = None, unit: str = "it") -> Any:
    """A tqdm bar; ``show=None`` shows it unless RAG_PLUGINS_PROGRESS=0."""
    from tqdm.auto import tqdm

    if show is None:
        show = os.environ.get("RAG_PLUGINS_PROGRESS", "1") != "0"
    return tqdm(total=total, desc=desc, unit=unit, disable=not show, leave=False, dynamic_ncols=True)
