"""The regression gate as a step of writing a base: golden queries and their baseline,
checked against whatever generation the base searches (the current one, a commit about to
be published, a re-index about to be switched to).

A base keeps its gate beside its data: ``KB/golden.jsonl`` and ``KB/golden_baseline.json``
(:data:`GOLDEN`, :data:`BASELINE`). ``rag-plugins regress`` runs it by hand; ``sync`` and
``reindex`` run it by themselves when the golden file exists, and with ``--gate`` a failing
verdict keeps the new generation from becoming current. In Python::

    gate = RegressionGate.for_knowledge_base(kb)     # None when the base has no golden file
    kb.commit(gate=gate)                             # RegressionGateError: nothing published
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from rag_plugins._files import write_text_atomically
from rag_plugins.errors import InvalidInputError, RegressionGateError
from rag_plugins.ops.regression import GoldenRun, RegressionReport, compare, load_golden, run_golden

GOLDEN = "golden.jsonl"
BASELINE = "golden_baseline.json"
DRIFT = "reindex_drift.json"
"""Where ``rag-plugins reindex`` keeps its last drift report (the metrics export it)."""


def last_run_path(baseline: Path) -> Path:
    """Where the last verdict against ``baseline`` is kept (``ops report`` shows it)."""
    return baseline.with_name(baseline.stem + ".last_run.json")


def read_baseline(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot read the baseline {path} ({exc}); delete it to record a new one") from exc


def write_json(path: Path, value: dict[str, Any]) -> None:
    write_text_atomically(path, json.dumps(value, indent=1) + "\n")


@dataclass(frozen=True)
class GateVerdict:
    """One gate run: the golden run, and its comparison with the baseline (None when this
    run recorded the baseline, which passes)."""

    run: GoldenRun
    report: RegressionReport | None
    baseline_path: Path

    @property
    def passed(self) -> bool:
        return self.report is None or self.report.passed

    @property
    def recorded(self) -> bool:
        return self.report is None

    def lines(self) -> list[str]:
        """What a command prints about this verdict."""
        k, run = self.run.k, self.run
        out = [f"{len(run.results)} golden queries, {run.retriever} top {k}: recall@{k} {run.recall:.3f}, "
               f"MRR@{k} {run.mrr:.3f} (generation {', '.join(map(str, run.generations)) or '-'})"]
        if self.report is None:
            return out + [f"baseline recorded at {self.baseline_path}: later runs are compared with it"]
        overall = self.report.baseline["overall"]
        out.append(f"baseline {self.baseline_path}: recall@{k} {overall[f'recall@{k}']:.3f}, "
                   f"MRR@{k} {overall[f'mrr@{k}']:.3f}")
        for regression in self.report.regressions:
            now = regression.now
            out.append(f"  worse: {now.query!r}: {regression.reason}; now retrieves "
                       f"{', '.join(now.retrieved[:3]) or 'nothing'}")
        out.append("PASS" if self.report.passed else "FAIL: " + "; ".join(self.report.failures))
        return out

    def to_dict(self) -> dict[str, Any]:
        if self.report is None:
            return {"passed": True, "recorded": str(self.baseline_path), "recall": self.run.recall,
                    "mrr": self.run.mrr, "k": self.run.k}
        return self.report.to_dict()


class RegressionGate:
    """Golden queries against a baseline, run through ``retriever`` (a catalog kind, or a
    function from the base to a retriever; default ``hybrid``, ``bm25`` on a base without
    dense vectors). Calling it with a base runs it and raises
    :class:`~rag_plugins.errors.RegressionGateError` on a failing verdict, which is how
    :meth:`~rag_plugins.KnowledgeBase.commit` and ``switch`` are gated.

    >>> gate = RegressionGate("kb/golden.jsonl", "kb/golden_baseline.json", retriever="bm25")  # doctest: +SKIP
    >>> gate.evaluate(kb).passed                                                              # doctest: +SKIP
    True
    """

    def __init__(self, golden: str | os.PathLike[str], baseline: str | os.PathLike[str], *,
                 retriever: str | Callable[[Any], Any] | None = None, k: int = 10, margin: float = 0.02):
        if not isinstance(k, int) or k < 1:
            raise InvalidInputError(f"k must be a positive integer, got {k!r}")
        if not 0 <= margin < 1:
            raise InvalidInputError(f"margin must be at least 0 and below 1, got {margin}")
        self.golden_path = Path(golden)
        self.golden = load_golden(self.golden_path)
        self.baseline_path = Path(baseline)
        self.retriever = retriever
        self.k = k
        self.margin = margin
        self.last: GateVerdict | None = None

    @classmethod
    def for_knowledge_base(cls, kb: Any, **options: Any) -> "RegressionGate | None":
        """The gate a base keeps beside its data, or None when it has no golden file."""
        path = Path(getattr(kb, "path", kb))
        if not (path / GOLDEN).exists():
            return None
        return cls(path / GOLDEN, path / BASELINE, **options)

    def _retriever(self, kb: Any) -> Any:
        if callable(self.retriever):
            return self.retriever(kb)
        kind = self.retriever or ("hybrid" if "vectors" in kb.index_kinds else "bm25")
        return kb.retriever(kind)

    def record_baseline_if_missing(self, kb: Any) -> GateVerdict | None:
        """Record the baseline from the generation ``kb`` serves now, when there is none yet
        (before a commit or a switch, so the new generation is compared with the old)."""
        if self.baseline_path.exists() or kb.generation == 0:
            return None
        return self.evaluate(kb)

    def evaluate(self, kb: Any, update_baseline: bool = False) -> GateVerdict:
        """Run the golden queries on what ``kb`` searches now; record the baseline when
        there is none (or ``update_baseline``), else compare with it. The verdict is also
        kept beside the baseline for ``rag-plugins ops report``."""
        run = run_golden(self._retriever(kb), self.golden, k=self.k)
        if update_baseline or not self.baseline_path.exists():
            write_json(self.baseline_path, run.to_baseline())
            verdict = GateVerdict(run, None, self.baseline_path)
        else:
            report = compare(run, read_baseline(self.baseline_path), self.margin)
            verdict = GateVerdict(run, report, self.baseline_path)
            write_json(last_run_path(self.baseline_path), {**report.to_dict(), "at": time.time()})
        self.last = verdict
        return verdict

    def __call__(self, kb: Any) -> None:
        verdict = self.evaluate(kb)
        if not verdict.passed:
            raise RegressionGateError(
                f"the regression gate ({self.golden_path}) refused generation "
                f"{', '.join(map(str, verdict.run.generations))}: {'; '.join(verdict.report.failures)}. Nothing was "
                "made current. Fix the cause, or accept the change: publish it without the gate, then record a "
                f"new baseline (rag-plugins regress {self.golden_path.parent} --update-baseline)", verdict)
