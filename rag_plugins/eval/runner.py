"""Run a retriever over a BEIR split: a TREC run file, metrics and timings."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from rag_plugins._progress import progress_bar
from rag_plugins.eval.beir import BeirDataset
from rag_plugins.eval.metrics import evaluate
from rag_plugins.types import Hit


def documents_in_order(hits: Sequence[Hit], k: int) -> list[tuple[str, float]]:
    """Collapse chunk hits to documents (a document ranks at its best chunk)."""
    seen: dict[str, float] = {}
    for hit in hits:
        if hit.document_id not in seen:
            seen[hit.document_id] = hit.score
            if len(seen) == k:
                break
    return list(seen.items())


@dataclass
class EvalResult:
    run: dict[str, list[tuple[str, float]]]
    metrics: dict[str, Any]

    def write_run(self, path: str | Path, tag: str) -> None:
        """TREC format: ``qid Q0 docid rank score tag``."""
        with open(path, "w", encoding="utf-8") as fh:
            for qid, docs in self.run.items():
                for rank, (doc_id, score) in enumerate(docs, start=1):
                    fh.write(f"{qid} Q0 {doc_id} {rank} {score:.6f} {tag}\n")

    def write_metrics(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.metrics, indent=2, sort_keys=True) + "\n")


def run_queries(
    retriever: Any,
    dataset: BeirDataset,
    k: int = 100,
    batch_size: int = 32,
    chunk_depth: int = 3,
    show_progress: bool | None = None,
    on_hits: Callable[[str, list[Hit]], None] | None = None,
) -> tuple[dict[str, list[tuple[str, float]]], list[float]]:
    """Retrieve ``k`` documents per query (``chunk_depth * k`` chunks, collapsed).

    Returns the run and the per-batch latency per query, in seconds. ``on_hits(qid,
    hits)`` sees each query's hits (e.g. to estimate confidence).
    """
    qids = list(dataset.queries)
    run: dict[str, list[tuple[str, float]]] = {}
    latencies: list[float] = []
    with progress_bar(len(qids), "Querying", show=show_progress, unit="query") as bar:
        for i in range(0, len(qids), batch_size):
            batch = qids[i : i + batch_size]
            t0 = time.perf_counter()
            results = retriever.batch_retrieve([dataset.queries[q] for q in batch], k=chunk_depth * k)
            elapsed = time.perf_counter() - t0
            latencies.extend([elapsed / len(batch)] * len(batch))
            for qid, hits in zip(batch, results):
                run[qid] = documents_in_order(hits, k)
                if on_hits is not None:
                    on_hits(qid, hits)
            bar.update(len(batch))
    return run, latencies


def evaluate_run(run: dict[str, list[tuple[str, float]]], dataset: BeirDataset,
                 cutoffs: Sequence[int] = (1, 5, 10, 100)) -> dict[str, float]:
    ranked = {q: [d for d, _ in docs] for q, docs in run.items()}
    return evaluate(ranked, dataset.qrels, cutoffs)


def latency_summary(latencies: Sequence[float]) -> dict[str, float]:
    arr = np.asarray(latencies) * 1000.0
    return {"p50_ms": float(np.percentile(arr, 50)), "p95_ms": float(np.percentile(arr, 95)),
            "mean_ms": float(arr.mean())}
