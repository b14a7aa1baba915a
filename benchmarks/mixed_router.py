"""Query routing on ../shared/data/mixed: one knowledge base holding SciFact and HotpotQA,
with heterogeneous queries (scientific claims and two-hop questions).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/mixed_router.py

Everything is trained and tuned on the `train` split (SciFact train + the first 150
HotpotQA questions) and reported on `dev` (SciFact test + the other 150):

- the learned router is fitted on train labels (each query's best route by nDCG@10);
  its regularisation by 5-fold cross-validation, and its fuse-below threshold by the
  out-of-fold decisions on train;
- reported on dev: nDCG@10 and recall_all@5 for every fixed route, fuse-all (all five
  routes fused by RRF), the rule router, the learned router, and the oracle (each query's
  best route, as headroom); mean and p95 latency, one query at a time; and each router's
  confusion matrix against the oracle labels.

The knowledge base (with its graph) is cached in benchmarks/results/work/mixed-kb-512. Its
first build reuses the embeddings of the SciFact and HotpotQA benchmark bases when they
exist (same model, same texts: same content-hash keys); otherwise it embeds 10,041
documents (about 9 minutes on 2 CPU cores). The trained router is written to
benchmarks/results/work/router-mixed; `rag-plugins train-router` trains the same router.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scifact import HERE, model_path  # noqa: E402

from rag_plugins import KnowledgeBase  # noqa: E402
from rag_plugins.eval.beir import load_beir  # noqa: E402
from rag_plugins.eval.metrics import ndcg_at_k, recall_all_at_k  # noqa: E402
from rag_plugins.eval.runner import documents_in_order, latency_summary  # noqa: E402
from rag_plugins.retrievers.hybrid import HybridRetriever  # noqa: E402
from rag_plugins.routing import (  # noqa: E402
    RouteDecision, RoutedRetriever, RuleRouter, embedding_info, fit_router, oracle_labels, query_features,
)
from rag_plugins.routing.training import choose_fuse_below, out_of_fold_decisions  # noqa: E402
from rag_plugins.types import Hit  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data"
WORK = HERE / "results" / "work"
KB_DIR = WORK / "mixed-kb-512"
ROUTER_DIR = WORK / "router-mixed"
ROUTES = ("bm25", "dense", "hybrid", "graph", "graph+hybrid")
DEPTH = 30  # chunks per query: 10 documents after collapsing chunks


def open_kb(dataset) -> KnowledgeBase:
    fresh = not (KB_DIR / "kb.sqlite").exists()
    kb = KnowledgeBase.open(KB_DIR, embedder=model_path(), chunk_size=512, graph=True)
    if fresh:
        with sqlite3.connect(KB_DIR / "kb.sqlite") as con:
            for other in ("scifact-kb-512", "hotpotqa-kb-512"):
                if (WORK / other / "kb.sqlite").exists():
                    con.execute("ATTACH DATABASE ? AS other", (str(WORK / other / "kb.sqlite"),))
                    con.execute("INSERT OR IGNORE INTO embeddings SELECT * FROM other.embeddings")
                    con.commit()
                    con.execute("DETACH DATABASE other")
    kb.upsert(dataset.corpus)
    kb.commit()
    return kb


def run(retriever, queries: dict[str, str], kb: KnowledgeBase) -> tuple[dict[str, list[Hit]], list[float]]:
    """Each query alone (after one warm-up): its hits and latency. The query-vector cache is
    emptied first, so every query pays for its embedding."""
    retriever.retrieve(next(iter(queries.values())), k=DEPTH)
    hits, latencies = {}, []
    for qid, text in queries.items():
        kb.clear_query_cache()
        t0 = time.perf_counter()
        hits[qid] = retriever.retrieve(text, k=DEPTH)
        latencies.append(time.perf_counter() - t0)
    return hits, latencies


def documents(hits: list[Hit]) -> list[str]:
    return [d for d, _ in documents_in_order(hits, 10)]


def quality(run_: dict[str, list[Hit]], qrels: dict) -> dict[str, float]:
    ndcg = [ndcg_at_k(documents(run_[q]), qrels[q], 10) for q in run_]
    recall_all = [recall_all_at_k(documents(run_[q]), qrels[q], 5) for q in run_]
    return {"ndcg@10": float(np.mean(ndcg)), "recall_all@5": float(np.mean(recall_all))}


def confusion(predicted: list[str], labels: list[str]) -> dict:
    """rows: the oracle's route; columns: the router's first choice."""
    return {o: {p: sum(1 for a, b in zip(labels, predicted) if a == o and b == p) for p in ROUTES} for o in ROUTES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA / "mixed"))
    parser.add_argument("--output", default=str(HERE / "results" / "mixed_router.json"))
    args = parser.parse_args()
    train, dev = load_beir(args.data, "train"), load_beir(args.data, "dev")
    kb = open_kb(dev)
    retrievers = {r: kb.retriever(r) for r in ROUTES}

    # --- train: label, fit, tune -------------------------------------------------------
    t0 = time.perf_counter()
    train_queries = {q: t for q, t in train.queries.items() if train.qrels.get(q)}
    train_runs = {r: run(retrievers[r], train_queries, kb)[0] for r in ROUTES}
    qids = list(train_queries)
    features = query_features(kb, [train_queries[q] for q in qids])
    scores = np.array([[ndcg_at_k(documents(train_runs[r][q]), train.qrels[q], 10) for r in ROUTES] for q in qids])
    router = fit_router(features, scores, ROUTES, embedding=embedding_info(kb))
    hits = {r: [train_runs[r][q] for q in qids] for r in ROUTES}
    qrels = [train.qrels[q] for q in qids]
    fuse_below, fuse_table = choose_fuse_below(out_of_fold_decisions(features, scores, ROUTES), hits, qrels,
                                               retrievers)
    router.fuse_below = fuse_below  # what train_router records
    router.metadata.update(fuse_below=fuse_below, fuse_below_mean_score=fuse_table)
    router.save(ROUTER_DIR)
    rule_decisions = [RuleRouter().decide(f, ROUTES) for f in features]
    rules_fuse_below, rules_table = choose_fuse_below(rule_decisions, hits, qrels, retrievers)
    if rules_fuse_below != RuleRouter.fuse_below:
        print(f"note: RuleRouter.fuse_below is {RuleRouter.fuse_below}, train chose {rules_fuse_below}", flush=True)
    train_seconds = time.perf_counter() - t0
    print(f"train: router C={router.metadata['c']}, learned fuse_below={fuse_below} {fuse_table}, "
          f"rules fuse_below={rules_fuse_below} {rules_table} ({train_seconds:.0f}s)", flush=True)

    # --- dev: every system, one query at a time ---------------------------------------
    queries = {q: t for q, t in dev.queries.items() if dev.qrels.get(q)}
    systems = {r: retrievers[r] for r in ROUTES}
    systems["fuse-all"] = HybridRetriever(retrievers, name="fuse-all")
    systems["rules"] = RoutedRetriever(kb, RuleRouter(), fuse_below=rules_fuse_below)
    systems["learned"] = RoutedRetriever(kb, router)  # its own fuse_below
    report: dict = {"systems": {}, "config": {
        "routes": list(ROUTES), "learned_fuse_below": fuse_below, "rules_fuse_below": rules_fuse_below,
        "learned_c": router.metadata["c"], "train_fuse_below_ndcg": {"learned": fuse_table, "rules": rules_table},
        "router_training": router.metadata, "n_dev_queries": len(queries), "n_train_queries": len(qids)}}
    decisions: dict[str, dict[str, RouteDecision]] = {"rules": {}, "learned": {}}  # by query text
    runs = {}
    for name, retriever in systems.items():
        if name in decisions:
            retriever.on_decision = lambda q, d, name=name: decisions[name].__setitem__(q, d)
        runs[name], latencies = run(retriever, queries, kb)
        report["systems"][name] = {**quality(runs[name], dev.qrels), **latency_summary(latencies)}
        if name in decisions:
            counts = Counter(" & ".join(d.routes) for d in decisions[name].values())
            report["systems"][name]["decisions"] = dict(sorted(counts.items()))
        print(name, {k: round(v, 4) if isinstance(v, float) else v for k, v in report["systems"][name].items()},
              flush=True)
    dev_ids = list(queries)
    dev_scores = np.array([[ndcg_at_k(documents(runs[r][q]), dev.qrels[q], 10) for r in ROUTES] for q in dev_ids])
    labels = [ROUTES[i] for i in oracle_labels(dev_scores)]
    best = {q: runs[labels[i]][q] for i, q in enumerate(dev_ids)}
    report["systems"]["oracle"] = quality(best, dev.qrels)
    report["confusion_vs_oracle"] = {
        name: confusion([decisions[name][queries[q]].route for q in dev_ids], labels) for name in decisions}
    fixed = {r: report["systems"][r]["ndcg@10"] for r in ROUTES}
    learned, fuse_all = report["systems"]["learned"], report["systems"]["fuse-all"]
    report["targets"] = {
        "best_fixed_route": max(fixed, key=fixed.get),
        "learned_minus_best_fixed_ndcg": learned["ndcg@10"] - max(fixed.values()),
        "learned_over_fuse_all_ndcg": learned["ndcg@10"] / fuse_all["ndcg@10"],
        "learned_over_fuse_all_mean_latency": learned["mean_ms"] / fuse_all["mean_ms"],
        "rules_minus_learned_ndcg": report["systems"]["rules"]["ndcg@10"] - learned["ndcg@10"],
    }
    print(json.dumps(report["targets"], indent=2))
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
