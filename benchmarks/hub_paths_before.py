"""Evidence paths of graph+hybrid through the top-1% entities, with the rag_plugins that is first on
sys.path: the reference row "before this release" of the hub table in benchmarks/README.md.

    git worktree add /tmp/before f1f8519
    PYTHONPATH=/tmp/before HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/hub_paths_before.py out.json
"""
import json
import sys
from pathlib import Path

import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parent))
from scifact import RELATIVE_SCORE as FUSION  # noqa: E402  (the default on that commit)
from rag_plugins import KnowledgeBase
from rag_plugins.eval.beir import load_beir
from rag_plugins.eval.runner import evaluate_run, run_queries
from rag_plugins.graph import GraphExpandedRetriever
from rag_plugins.graph.index import EdgeWeights
from rag_plugins.graph.retriever import ARROW
import rag_plugins; print(rag_plugins.__file__)
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ds = load_beir(DATA / "hotpotqa", "dev")
kb = KnowledgeBase.open(str(Path(__file__).resolve().parent / "results" / "work" / "hotpotqa-kb-512"), read_only=True)
index = kb.searchable_snapshot().graph
degree = np.diff(index.adjacency(EdgeWeights()).indptr)
entities = np.flatnonzero(~index.is_chunk)
top = entities[np.argsort(-degree[entities], kind="stable")[: int(len(entities) * 0.01)]]
hubs = {index.name(int(i)) for i in top}
hybrid = kb.hybrid_retriever(method=FUSION["method"], weights=FUSION["weights"], rrf_k=FUSION["rrf_k"])
out = {}
for name, r in {"graph": kb.graph_retriever(mode="ppr", damping=0.5),
                "graph+hybrid": GraphExpandedRetriever(hybrid, kb.graph_retriever(mode="ppr", damping=0.5),
                                                       method="rrf", expand_top=2, share=0.95)}.items():
    paths = []
    run, _ = run_queries(r, ds, k=10, batch_size=32, show_progress=False,
                         on_hits=lambda q, hits: paths.extend(p.split(ARROW) for h in hits[:5] for p in h.evidence.get("paths", ())))
    m = evaluate_run(run, ds, cutoffs=(2, 5, 10))
    out[name] = {"recall_all@5": m["recall_all@5"], "recall@5": m["recall@5"],
                 "paths_through_top1pct_hubs": sum(any(n in hubs for n in p[1:-1]) for p in paths) / len(paths),
                 "mean_path_steps": sum(len(p) - 1 for p in paths) / len(paths), "paths": len(paths)}
    print(name, json.dumps(out[name]), flush=True)
Path(sys.argv[1]).write_text(json.dumps(out, indent=1))
