"""The retrieval regression gate: golden queries, a stored baseline, and a verdict.

A golden file is JSONL, one ``{"query": ..., "expected": [document or chunk ids],
"min_rank": optional}`` per line (``id`` optional). :func:`run_golden` searches each query
and scores it: recall@k of the expected ids and the reciprocal rank of the first one found.
:func:`compare` sets a run against a baseline and fails when overall recall@k or MRR@k
drops by more than ``margin`` (absolute), or a query that met its ``min_rank`` no longer
does, listing the queries that got worse and what they retrieve now.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from rag_plugins.errors import InvalidInputError
from rag_plugins.tracing import traced_search

BASELINE_FORMAT = 1


@dataclass(frozen=True)
class GoldenQuery:
    """One golden query: the ids that should come back (documents or chunks), and the rank
    the first of them must reach, if any."""

    id: str
    query: str
    expected: tuple[str, ...]
    min_rank: int | None = None


@dataclass(frozen=True)
class QueryResult:
    id: str
    query: str
    recall: float
    rank: int | None
    retrieved: tuple[str, ...]
    met_min_rank: bool | None = None

    @property
    def reciprocal_rank(self) -> float:
        return 1.0 / self.rank if self.rank else 0.0


@dataclass(frozen=True)
class GoldenRun:
    """Every golden query's result, and the means over them."""

    k: int
    retriever: str
    golden_sha256: str
    results: tuple[QueryResult, ...]
    generations: tuple[int, ...] = ()

    @property
    def recall(self) -> float:
        return sum(r.recall for r in self.results) / len(self.results)

    @property
    def mrr(self) -> float:
        return sum(r.reciprocal_rank for r in self.results) / len(self.results)

    def to_baseline(self) -> dict[str, Any]:
        """What a baseline file stores: the settings, the means and every query's result."""
        return {"format": BASELINE_FORMAT, "k": self.k, "retriever": self.retriever,
                "golden_sha256": self.golden_sha256, "recorded_at": time.time(),
                "generations": list(self.generations),
                "overall": {f"recall@{self.k}": self.recall, f"mrr@{self.k}": self.mrr},
                "queries": {r.id: {"recall": r.recall, "rank": r.rank, "met_min_rank": r.met_min_rank}
                            for r in self.results}}


@dataclass(frozen=True)
class Regression:
    """A query that got worse: its result before (from the baseline) and now."""

    now: QueryResult
    recall_before: float
    rank_before: int | None
    reason: str


@dataclass(frozen=True)
class RegressionReport:
    """``passed`` unless a mean fell by more than ``margin`` or a query lost its
    ``min_rank``; ``failures`` says which, ``regressions`` lists the queries that got worse."""

    run: GoldenRun
    baseline: Mapping[str, Any]
    margin: float
    failures: tuple[str, ...]
    regressions: tuple[Regression, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        k = self.run.k
        before = self.baseline["overall"]
        return {"passed": self.passed, "k": k, "margin": self.margin, "failures": list(self.failures),
                "recall": {"baseline": before[f"recall@{k}"], "now": self.run.recall},
                "mrr": {"baseline": before[f"mrr@{k}"], "now": self.run.mrr},
                "regressions": [{"id": r.now.id, "query": r.now.query, "reason": r.reason,
                                 "recall": [r.recall_before, r.now.recall], "rank": [r.rank_before, r.now.rank],
                                 "retrieved": list(r.now.retrieved)} for r in self.regressions]}


def load_golden(path: str | os.PathLike[str]) -> list[GoldenQuery]:
    """The golden queries in ``path``; a malformed line is an error naming it."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidInputError(f"cannot read the golden file {path}: {exc}") from exc
    golden: list[GoldenQuery] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{where} is not JSON ({exc.msg}); each line is "
                                    '{"query": "...", "expected": ["doc-id", ...]}') from None
        if not isinstance(row, dict):
            raise InvalidInputError(f"{where}: expected a JSON object with query and expected")
        query, expected, min_rank = row.get("query"), row.get("expected"), row.get("min_rank")
        if not isinstance(query, str) or not query.strip():
            raise InvalidInputError(f"{where}: 'query' must be a non-empty string")
        if (not isinstance(expected, list) or not expected
                or not all(isinstance(e, str) and e for e in expected)):
            raise InvalidInputError(f"{where}: 'expected' must be a non-empty list of document or chunk ids")
        if min_rank is not None and (isinstance(min_rank, bool) or not isinstance(min_rank, int) or min_rank < 1):
            raise InvalidInputError(f"{where}: 'min_rank' must be a positive integer")
        qid = str(row.get("id", number))
        if qid in seen:
            raise InvalidInputError(f"{where}: id {qid!r} is used twice; golden ids must be unique")
        seen.add(qid)
        golden.append(GoldenQuery(qid, query, tuple(expected), min_rank))
    if not golden:
        raise InvalidInputError(f"{path} holds no golden queries")
    return golden


def golden_digest(golden: Sequence[GoldenQuery]) -> str:
    canonical = json.dumps([asdict(g) for g in golden], sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def run_golden(retriever: Any, golden: Sequence[GoldenQuery], k: int = 10) -> GoldenRun:
    """Search every golden query for ``k`` hits through :func:`~rag_plugins.tracing.traced_search`."""
    results, generations = [], set()
    for g in golden:
        search = traced_search(retriever, g.query, k)
        generations.update(search.generations)
        expected = set(g.expected)
        found, rank, retrieved = set(), None, []
        for position, hit in enumerate(search.hits, 1):
            ids = {hit.document_id, hit.chunk.id} & expected
            if ids and rank is None:
                rank = position
            found |= ids
            retrieved.append(hit.document_id)
        met = None if g.min_rank is None else (rank is not None and rank <= g.min_rank)
        results.append(QueryResult(g.id, g.query, len(found) / len(expected), rank,
                                   tuple(dict.fromkeys(retrieved)), met))
    return GoldenRun(k, getattr(retriever, "name", type(retriever).__name__), golden_digest(golden),
                     tuple(results), tuple(sorted(generations)))


def compare(run: GoldenRun, baseline: Mapping[str, Any], margin: float = 0.02) -> RegressionReport:
    """The verdict on ``run`` against ``baseline`` (what :meth:`GoldenRun.to_baseline` wrote)."""
    check_baseline(baseline, run)
    k = run.k
    failures = []
    for name, now in ((f"recall@{k}", run.recall), (f"mrr@{k}", run.mrr)):
        before = float(baseline["overall"][name])
        if now < before - margin:
            failures.append(f"{name} fell from {before:.3f} to {now:.3f} (allowed margin {margin:.3f})")
    regressions = []
    lost_rank = 0
    for result in run.results:
        old = baseline["queries"].get(result.id)
        if old is None:
            continue
        reason = None
        if old.get("met_min_rank") and result.met_min_rank is False:
            reason = f"first expected hit at rank {result.rank or 'none'}, beyond its min_rank"
            lost_rank += 1
        elif result.recall < old["recall"]:
            reason = f"recall@{k} {old['recall']:.2f} -> {result.recall:.2f}"
        elif old["rank"] is not None and (result.rank is None or result.rank > old["rank"]):
            reason = f"first expected hit from rank {old['rank']} to {result.rank or 'none'}"
        if reason:
            regressions.append(Regression(result, old["recall"], old["rank"], reason))
    if lost_rank:
        failures.append(f"{lost_rank} queries no longer reach their min_rank")
    return RegressionReport(run, baseline, margin, tuple(failures), tuple(regressions))


def check_baseline(baseline: Mapping[str, Any], run: GoldenRun) -> None:
    """Refuse a baseline another format, golden file or ``k`` recorded."""
    if baseline.get("format") != BASELINE_FORMAT or "overall" not in baseline or "queries" not in baseline:
        raise InvalidInputError("the baseline is not a rag-plugins regression baseline (format 1); "
                                "delete it and run regress again to record a new one")
    if baseline.get("golden_sha256") != run.golden_sha256:
        raise InvalidInputError("the golden file changed since the baseline was recorded; "
                                "record a new baseline with --update-baseline")
    if baseline.get("retriever", run.retriever) != run.retriever:
        raise InvalidInputError(f"the baseline was recorded with the {baseline.get('retriever')} retriever, not "
                                f"{run.retriever}; pass that --retriever or record a new baseline with --update-baseline")
    if baseline.get("k") != run.k:
        raise InvalidInputError(f"the baseline was recorded at k={baseline.get('k')}, not k={run.k}; "
                                "pass that --k or record a new baseline with --update-baseline")


def golden_from_qrels(queries: Mapping[str, str], qrels: Mapping[str, Mapping[str, int]],
                      limit: int | None = None) -> list[GoldenQuery]:
    """Golden queries from BEIR-style relevance judgements: every judged-relevant document
    expected (relevance > 0)."""
    golden = []
    for qid, query in queries.items():
        expected = tuple(doc for doc, grade in qrels.get(qid, {}).items() if grade > 0)
        if expected:
            golden.append(GoldenQuery(qid, query, expected))
        if limit is not None and len(golden) >= limit:
            break
    return golden


def golden_from_feedback(feedback: Iterable[Any], *, min_accepted: int = 1,
                         limit: int | None = None) -> list[GoldenQuery]:
    """Golden queries from users' verdicts (:meth:`RetrievalLog.record_feedback
    <rag_plugins.ops.retrieval_log.RetrievalLog.record_feedback>`): each query whose answer
    was accepted at least ``min_accepted`` times and not rejected since, expecting the ids
    its latest accepted answer rested on. Most recently accepted first."""
    if isinstance(min_accepted, bool) or not isinstance(min_accepted, int) or min_accepted < 1:
        raise InvalidInputError(f"min_accepted must be a positive integer, got {min_accepted!r}")
    latest: dict[str, Any] = {}
    accepted: dict[str, int] = {}
    for record in sorted(feedback, key=lambda r: r.at):
        key = " ".join(record.query.split())
        if record.accepted:
            accepted[key] = accepted.get(key, 0) + 1
            latest[key] = record
        else:
            latest.pop(key, None)  # a rejection withdraws the earlier acceptances
            accepted.pop(key, None)
    chosen = sorted((r for key, r in latest.items() if accepted[key] >= min_accepted), key=lambda r: -r.at)
    golden = [GoldenQuery("log-" + hashlib.sha256(r.query.encode()).hexdigest()[:12], r.query, tuple(r.ids))
              for r in chosen]
    return golden[:limit] if limit is not None else golden


def write_golden(golden: Iterable[GoldenQuery], path: str | os.PathLike[str]) -> int:
    """Write golden queries as JSONL; how many."""
    rows = [{"id": g.id, "query": g.query, "expected": list(g.expected),
             **({"min_rank": g.min_rank} if g.min_rank is not None else {})} for g in golden]
    Path(path).write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return len(rows)
