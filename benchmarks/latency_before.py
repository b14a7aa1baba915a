"""Graph and hybrid (relative-score) query latency on the HotpotQA base, for comparing two
releases on the same machine in the same minutes (a slow day slows both alike).

    git worktree add /tmp/old <commit>
    for i in 1 2; do
      PYTHONPATH=/tmp/old HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/latency_before.py old
      HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/latency_before.py new
    done

Median of 150 questions one at a time, the query-vector cache emptied before each. Uses only
API both releases share. Run benchmarks/hotpotqa_graph.py first (it builds the base).
"""

import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAG_PLUGINS_PROGRESS", "0")

from rag_plugins import KnowledgeBase  # noqa: E402
from rag_plugins.eval.beir import load_beir  # noqa: E402

HERE = Path(__file__).resolve().parent
KB = HERE / "results" / "work" / "hotpotqa-kb-512"
queries = list(load_beir(HERE.parent.parent / "shared" / "data" / "hotpotqa", "dev").queries.values())[:150]
kb = KnowledgeBase.open(KB, read_only=True)
out = {}
for name, retriever in [("graph", kb.graph_retriever()), ("hybrid relative-score", kb.hybrid_retriever(method="relative_score"))]:
    retriever.retrieve(queries[0], k=10)
    times = []
    for query in queries:
        kb.clear_query_cache()
        t0 = time.perf_counter()
        retriever.retrieve(query, k=10)
        times.append(time.perf_counter() - t0)
    out[name] = round(statistics.median(times) * 1000, 2)
print(sys.argv[1] if len(sys.argv) > 1 else "", json.dumps(out), flush=True)
