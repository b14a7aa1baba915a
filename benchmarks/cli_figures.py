"""The headline quality figures again, from the ``rag-plugins eval`` commands the READMEs print,
with the CLI's defaults, compared with what the benchmark scripts recorded.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/cli_figures.py

Run benchmarks/scifact.py and benchmarks/hotpotqa_graph.py first: the commands reuse their
knowledge bases (``--index-dir``), so nothing is embedded again; ``--embedding-model`` is the
local all-MiniLM-L6-v2 folder the bases were built with. Exits 1 when a figure differs by
more than 0.0005. Writes results/cli_figures.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scifact import HERE, model_path  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data"
WORK = HERE / "results" / "work"
RESULTS = HERE / "results"

# (what, eval arguments after the dataset, metric, where the benchmark recorded it)
CASES = [
    ("SciFact test, hybrid", ["scifact", "--split", "test", "--retriever", "hybrid", "--chunk-size", "512",
                              "--k", "100", "--index-dir", "scifact-kb-512"],
     "ndcg@10", ("scifact.json", ["quality", "hybrid", "ndcg@10"])),
    ("SciFact test, bm25", ["scifact", "--split", "test", "--retriever", "bm25", "--chunk-size", "512",
                            "--k", "100", "--index-dir", "scifact-kb-512"],
     "ndcg@10", ("scifact.json", ["quality", "bm25", "ndcg@10"])),
    ("SciFact test, dense", ["scifact", "--split", "test", "--retriever", "dense", "--chunk-size", "512",
                             "--k", "100", "--index-dir", "scifact-kb-512"],
     "ndcg@10", ("scifact.json", ["quality", "dense", "ndcg@10"])),
    ("HotpotQA dev, graph+hybrid", ["hotpotqa", "--split", "dev", "--retriever", "graph+hybrid", "--chunk-size", "512",
                                    "--k", "10", "--index-dir", "hotpotqa-kb-512"],
     "recall_all@5", ("hotpotqa_graph.json", ["quality", "graph+hybrid", "all", "recall_all@5"])),
    ("HotpotQA dev, iterative 2 rounds", ["hotpotqa", "--split", "dev", "--retriever", "iterative", "--iterations", "2",
                                          "--chunk-size", "512", "--k", "10", "--index-dir", "hotpotqa-kb-512"],
     "recall_all@5", ("hotpotqa_iterative.json", ["quality", "iterative-2 (hybrid)", "all", "recall_all@5"])),
]


def recorded(file: str, keys: list[str]) -> float:
    value = json.loads((RESULTS / file).read_text())
    for key in keys:
        value = value[key]
    return float(value)


def main() -> int:
    rows, failed = [], False
    rag_plugins = str(Path(sys.executable).with_name("rag-plugins"))
    for what, args, metric, (file, keys) in CASES:
        args = [str(DATA / args[0]), *args[1:]]
        at = args.index("--index-dir") + 1
        args[at] = str(WORK / args[at])
        with tempfile.TemporaryDirectory() as tmp:
            command = [rag_plugins, "eval", *args, "--embedding-model", model_path(),
                       "--run-file", f"{tmp}/run.trec", "--output", f"{tmp}/metrics.json"]
            subprocess.run(command, check=True)
            got = json.loads(Path(f"{tmp}/metrics.json").read_text())[metric]
        want = recorded(file, keys)
        same = abs(got - want) <= 0.0005
        failed |= not same
        rows.append({"what": what, "metric": metric, "cli": got, "benchmark": want, "same": same,
                     "command": "rag-plugins eval " + " ".join(args)})
        print(f"{what}: {metric} CLI {got:.3f}, benchmark {want:.3f} {'(same)' if same else '(DIFFERENT)'}", flush=True)
    (RESULTS / "cli_figures.json").write_text(json.dumps(rows, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
