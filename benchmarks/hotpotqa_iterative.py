"""HotpotQA dev (300 two-hop questions): iterative retrieval (ITER-RETGEN with the offline
extractive bridge generator, no LLM) against single-shot hybrid and graph+hybrid.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/hotpotqa_iterative.py [--tune]

The generator's settings and the merge's ``keep`` are chosen by recall_all@5 on the 150
questions of ../shared/data/mixed train (the first half of this dev set; ``--tune`` re-runs
the grid into results/hotpotqa_iterative_tuning.json) and reported on all 300 and on the
150 held out. Reuses the knowledge base of benchmarks/hotpotqa_graph.py
(benchmarks/results/work/hotpotqa-kb-512).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hotpotqa_graph import DATA, EXPANDED, GRAPH, open_kb, retrievers, scores, split_halves  # noqa: E402
from scifact import HERE, sequential_latency  # noqa: E402

from rag_plugins.eval.beir import load_beir  # noqa: E402
from rag_plugins.generation import ExtractiveBridgeGenerator  # noqa: E402
from rag_plugins.iterative import IterativeRetriever, IterRetGen  # noqa: E402
from rag_plugins.iterative.merge import DEFAULT_KEEP  # noqa: E402

# the best of tune()'s grid on the tuning half (results/hotpotqa_iterative_tuning.json), averaged
# over 2 and 3 iterations; also the ExtractiveBridgeGenerator defaults
GENERATOR = {"top_hits": 5, "sentences": 3, "output": "entities", "use_titles": True}
KEEP = DEFAULT_KEEP  # chosen by benchmarks/confident_merge.py (was 2, the best of the grid below alone)


def iterative(kb, base, iterations: int, keep: int = KEEP, generator: dict | None = None) -> IterativeRetriever:
    pipeline = IterRetGen(base, ExtractiveBridgeGenerator(kb, **(generator or GENERATOR)), iterations=iterations,
                          keep=keep)
    return IterativeRetriever(pipeline, name=f"iterative-{iterations}")


def tune(kb, base, dataset) -> dict:
    grid = {}
    for iterations, keep, sentences, use_titles in itertools.product((2, 3), (2, 3), (2, 3), (False, True)):
        generator = {**GENERATOR, "sentences": sentences, "use_titles": use_titles}
        key = json.dumps({"iterations": iterations, "keep": keep, **generator})
        grid[key] = scores(iterative(kb, base, iterations, keep, generator), dataset)
        print(key, round(grid[key]["recall_all@5"], 4), flush=True)
    for output in ("sentences",):
        generator = {**GENERATOR, "output": output}
        key = json.dumps({"iterations": 2, "keep": KEEP, **generator})
        grid[key] = scores(iterative(kb, base, 2, KEEP, generator), dataset)
        print(key, round(grid[key]["recall_all@5"], 4), flush=True)
    return grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--tune", action="store_true", help="re-run the grid on the tuning half")
    parser.add_argument("--output", default=str(HERE / "results" / "hotpotqa_iterative.json"))
    args = parser.parse_args()
    data = Path(args.data)
    dataset = load_beir(data / "hotpotqa", "dev")
    halves = split_halves(data, dataset)
    kb = open_kb(dataset)
    single = retrievers(kb, GRAPH, EXPANDED)
    if args.tune:
        grid = tune(kb, single["hybrid"], halves["tuning half"])
        (HERE / "results" / "hotpotqa_iterative_tuning.json").write_text(json.dumps(grid, indent=1))
    systems = {
        "hybrid": single["hybrid"],
        "graph+hybrid": single["graph+hybrid"],
        "iterative-2 (hybrid)": iterative(kb, single["hybrid"], 2),
        "iterative-3 (hybrid)": iterative(kb, single["hybrid"], 3),
        "iterative-2 (graph+hybrid)": iterative(kb, single["graph+hybrid"], 2),
    }
    report: dict = {"dataset": "hotpotqa dev", "queries": {k: len(v.queries) for k, v in halves.items()},
                    "generator": GENERATOR, "keep": KEEP, "quality": {}, "latency": {}}
    for name, retriever in systems.items():
        report["quality"][name] = {half: scores(retriever, ds) for half, ds in halves.items()}
        print(name, json.dumps(report["quality"][name]["all"]), flush=True)
    queries = list(dataset.queries.values())
    timed = {"hybrid": single["hybrid"],  # iterative ones fresh: no sentence vectors cached yet
             "iterative-2 (hybrid)": iterative(kb, single["hybrid"], 2),
             "iterative-3 (hybrid)": iterative(kb, single["hybrid"], 3)}
    for name, retriever in timed.items():
        report["latency"][name] = sequential_latency(retriever, queries, kb=kb)
        print(name, json.dumps(report["latency"][name]), flush=True)
    Path(args.output).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
