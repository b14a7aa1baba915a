"""A sync in its own process, slowed so a test can kill it mid-way:

    python sync_worker.py FOLDER KB    prints ``loading <n>`` before each file it loads
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from rag_plugins import KnowledgeBase
from rag_plugins.store import sync


def main(folder: str, base: str) -> None:
    real = sync.load_source
    count = 0

    def slow(path: Path):
        nonlocal count
        count += 1
        print(f"loading {count}", flush=True)
        time.sleep(0.05)
        return real(path)

    sync.load_source = slow
    with KnowledgeBase.open(base, show_progress=False) as kb:
        report = kb.sync([folder])
    print("done", report.generation, len(report.added), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
