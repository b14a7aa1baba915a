"""Writing a tiny BEIR-layout dataset for command-line tests."""

from __future__ import annotations

import json
from pathlib import Path


def write_beir(root: Path, corpus: list[tuple[str, str, str]], queries: dict[str, tuple[str, list[str]]],
               split: str = "test") -> Path:
    """``corpus``: (id, title, text); ``queries``: id -> (text, relevant ids)."""
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("\n".join(
        json.dumps({"_id": i, "title": t, "text": x, "metadata": {}}) for i, t, x in corpus))
    (root / "queries.jsonl").write_text("\n".join(json.dumps({"_id": q, "text": t}) for q, (t, _) in queries.items()))
    (root / "qrels" / f"{split}.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, (_, ds) in queries.items() for d in ds))
    return root
