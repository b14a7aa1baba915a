"""Keeping the first stage's confident hits when a later stage adds its own: ITER-RETGEN's
rounds and graph expansion, tuned on the tuning half of HotpotQA dev, reported on the held-out
half and on the questions hybrid alone already answers.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/confident_merge.py

Each question is retrieved once by hybrid (top 10), by 2-round ITER-RETGEN over it with the
offline extractive generator (as in ``benchmarks/hotpotqa_iterative.py``) and by graph+hybrid
(as in ``benchmarks/hotpotqa_graph.py``); every merge is then scored on the same rankings with
``cascade_merge``: ``protect`` keeps, ahead of the later stage's hits, the first stage's hits
within the top ``1 - protect`` of its score range. "Strong" questions are those where hybrid
alone has all the evidence in its top 5 (recall_all@5 = 1): a merge that pushes a confident
first-stage hit out shows there. Writes ``results/confident_merge.json``.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAG_PLUGINS_PROGRESS", "0")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from hotpotqa_graph import DATA, EXPANDED, GRAPH, open_kb, retrievers, split_halves  # noqa: E402
from hotpotqa_iterative import GENERATOR, KEEP  # noqa: E402
from scifact import HERE  # noqa: E402

from rag_plugins.eval.beir import load_beir  # noqa: E402
from rag_plugins.generation import ExtractiveBridgeGenerator  # noqa: E402
from rag_plugins.iterative import IterRetGen  # noqa: E402
from rag_plugins.iterative.merge import cascade_merge  # noqa: E402


def recall_all(docs: list[str], relevant: set[str], k: int = 5) -> float:
    return float(relevant <= set(list(dict.fromkeys(docs))[:k]))


def main() -> None:
    dataset = load_beir(DATA / "hotpotqa", "dev")
    halves = split_halves(DATA, dataset)
    kb = open_kb(dataset)
    pipeline = IterRetGen(kb.hybrid_retriever(), ExtractiveBridgeGenerator(kb, **GENERATOR), iterations=2, keep=KEEP)
    expanded = retrievers(kb, GRAPH, EXPANDED)["graph+hybrid"]
    rounds: dict[str, list[list]] = {}
    graph: dict[str, list[list]] = {}
    for qid, question in dataset.queries.items():
        result = pipeline.run(question, k=10)
        rounds[qid] = [list(step.hits) for step in result.steps if step.kind == "retrieval"]
        graph[qid] = [rounds[qid][0], expanded.retrieve(question, k=10)]
    relevant = {qid: {d for d, grade in rels.items() if grade > 0} for qid, rels in dataset.qrels.items()}

    merges = {"hybrid alone": (rounds, lambda r: r[0])}
    for keep in (2, 3, 4, 5):
        merges[f"iterative, keep {keep}"] = (rounds, lambda r, keep=keep: cascade_merge(r, keep))
    for protect in (0.5, 0.6, 0.7, 0.8, 0.9):
        merges[f"iterative, keep 2, protect {protect}"] = (rounds, lambda r, p=protect: cascade_merge(r, 2, p))
    merges["graph+hybrid"] = (graph, lambda r: r[1])
    for keep in (1, 2, 3, 4):
        merges[f"graph+hybrid, keep {keep}"] = (graph, lambda r, keep=keep: cascade_merge(r, keep))
    for protect in (0.5, 0.6, 0.7, 0.8, 0.9):
        merges[f"graph+hybrid, protect {protect}"] = (graph, lambda r, p=protect: cascade_merge(r, 0, p))
    report: dict = {"merges": {}}
    for name, half in halves.items():
        qids = list(half.queries)
        strong = [q for q in qids if recall_all([h.document_id for h in rounds[q][0]], relevant[q]) == 1.0]
        for merge_name, (rankings, merge) in merges.items():
            entry = report["merges"].setdefault(merge_name, {})
            for label, group in ((name, qids), (f"{name}, strong ({len(strong)})", strong)):
                entry[label] = statistics.mean(
                    recall_all([h.document_id for h in merge(rankings[q])], relevant[q]) for q in group)
    for merge_name, entry in report["merges"].items():
        print(f"{merge_name:34s} " + "  ".join(f"{k} {v:.3f}" for k, v in entry.items()), flush=True)
    (HERE / "results" / "confident_merge.json").write_text(json.dumps(report, indent=1) + "\n")
    kb.close()


if __name__ == "__main__":
    main()
