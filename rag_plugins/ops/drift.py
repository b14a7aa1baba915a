"""Embedding drift: how much a re-index with another model changes what queries retrieve.

The same queries are searched in the current generation and in a candidate one (a pending
re-index, :meth:`~rag_plugins.KnowledgeBase.standby_snapshot`) through the same retriever.
Per query: the overlap of the two top-k lists, their rank correlation (Kendall's tau-b
over the union of both, a chunk missing from one list ranked just below its last), and
whether the top hit changed. Both generations hold the same chunks, so chunk ids compare.

>>> report = measure_drift(kb, kb.standby_snapshot(), queries, retriever="hybrid")  # doctest: +SKIP
>>> report.overlap, report.top1_changed                                           # doctest: +SKIP
(0.62, 0.35)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from scipy.stats import kendalltau

from rag_plugins.errors import InvalidInputError
from rag_plugins.ops.retrieval_log import FILE_NAME, read_retrieval_log


@dataclass(frozen=True)
class QueryDrift:
    query: str
    before: tuple[str, ...]
    """Chunk ids the current generation returns, best first."""
    after: tuple[str, ...]
    """Chunk ids the candidate returns, best first."""
    overlap: float
    rank_correlation: float | None
    """None when the two lists share too little to rank (fewer than two chunks in all)."""

    @property
    def top1_changed(self) -> bool:
        return self.before[:1] != self.after[:1]


@dataclass(frozen=True)
class DriftReport:
    retriever: str
    k: int
    queries: tuple[QueryDrift, ...]
    generations: tuple[int, int]
    """(current, candidate)."""

    @property
    def overlap(self) -> float:
        """Mean overlap@k: the share of the current top k the candidate also returns."""
        return float(np.mean([q.overlap for q in self.queries])) if self.queries else 0.0

    @property
    def rank_correlation(self) -> float | None:
        """Mean Kendall's tau-b over the queries where it is defined."""
        taus = [q.rank_correlation for q in self.queries if q.rank_correlation is not None]
        return float(np.mean(taus)) if taus else None

    @property
    def top1_changed(self) -> float:
        """The share of queries whose top hit changed."""
        return float(np.mean([q.top1_changed for q in self.queries])) if self.queries else 0.0

    def most_changed(self, n: int = 5) -> list[QueryDrift]:
        return sorted(self.queries, key=lambda q: (q.overlap, q.query))[:n]

    def to_dict(self) -> dict[str, Any]:
        return {"retriever": self.retriever, "k": self.k, "queries": len(self.queries),
                "generations": list(self.generations), f"overlap@{self.k}": self.overlap,
                "rank_correlation": self.rank_correlation, "top1_changed": self.top1_changed,
                "most_changed": [{"query": q.query, f"overlap@{self.k}": q.overlap, "before": list(q.before[:3]),
                                  "after": list(q.after[:3])} for q in self.most_changed()]}


def measure_drift(kb: Any, candidate: Any, queries: Sequence[str], retriever: str | Any = "dense",
                  k: int = 10) -> DriftReport:
    """Search ``queries`` in ``kb``'s current generation and in ``candidate`` (a snapshot
    of the same base) with ``retriever`` (a kind from the catalog, or a retriever over
    ``kb``), and compare the top ``k``."""
    queries = list(dict.fromkeys(q for q in queries if isinstance(q, str) and q.strip()))
    if not queries:
        raise InvalidInputError("measuring drift needs at least one query; log queries (serve-mcp --retrieval-log "
                                "--log-queries), keep a golden file, or pass --queries FILE")
    if not isinstance(k, int) or k < 1:
        raise InvalidInputError(f"k must be a positive integer, got {k!r}")
    search = kb.retriever(retriever) if isinstance(retriever, str) else retriever
    name = retriever if isinstance(retriever, str) else getattr(retriever, "name", type(retriever).__name__)
    before = search.batch_retrieve(queries, k=k)
    current = kb.searchable_snapshot().generation
    with kb.reading(candidate):
        after = search.batch_retrieve(queries, k=k)
    drifts = tuple(_drift(q, [h.chunk.id for h in b], [h.chunk.id for h in a], k)
                   for q, b, a in zip(queries, before, after))
    return DriftReport(name, k, drifts, (current, candidate.generation))


def _drift(query: str, before: list[str], after: list[str], k: int) -> QueryDrift:
    overlap = len(set(before) & set(after)) / max(len(before), len(after), 1)
    union = list(dict.fromkeys(before + after))
    tau = None
    if len(union) >= 2:
        first = [before.index(c) if c in before else k for c in union]
        second = [after.index(c) if c in after else k for c in union]
        value = kendalltau(first, second).statistic
        tau = None if np.isnan(value) else float(value)
    return QueryDrift(query, tuple(before), tuple(after), float(overlap), tau)


def sample_queries(kb_path: str | os.PathLike[str], *, queries_file: str | os.PathLike[str] | None = None,
                   golden: str | os.PathLike[str] | None = None, limit: int = 200) -> tuple[list[str], str]:
    """Queries to measure drift on, and where they came from: ``queries_file`` (one query
    per line, or JSONL with ``query`` or ``text``), else the most recent distinct query
    texts of the base's retrieval log, else the golden file's queries."""
    if queries_file is not None:
        return _read_queries(Path(queries_file))[:limit], str(queries_file)
    log = Path(kb_path) / FILE_NAME
    if log.exists():
        texts = [s.query for s in reversed(read_retrieval_log(log)) if s.query]
        texts = list(dict.fromkeys(texts))[:limit]
        if texts:
            return texts, f"{log} (the {len(texts)} most recent distinct logged queries)"
    if golden is not None and Path(golden).exists():
        from rag_plugins.ops.regression import load_golden

        return [g.query for g in load_golden(golden)][:limit], str(golden)
    raise InvalidInputError(
        f"no queries to measure drift on: {log} holds no query text (serve with --retrieval-log --log-queries) "
        "and there is no golden file; pass --queries FILE (one query per line)")


def _read_queries(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeError) as exc:
        raise InvalidInputError(f"cannot read queries from {path}: {exc}") from exc
    out = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise InvalidInputError(f"{path}:{number} is not valid JSON ({exc})") from exc
            text = record.get("query", record.get("text")) if isinstance(record, dict) else None
            if not isinstance(text, str):
                raise InvalidInputError(f"{path}:{number} has no string \"query\" or \"text\"")
            out.append(text)
        else:
            out.append(line)
    if not out:
        raise InvalidInputError(f"{path} holds no queries")
    return out
