"""Embedding and reranking backends (torch, onnx, onnx-int8) on SciFact test, in one process.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/encoders.py [--sample 300] [--repeats 2] [--rerank-queries 20]

Everything goes through the public API with its defaults, the way the README tells a user
to run it; only the backend changes:

* **document encoding**: indexing ``--sample`` SciFact abstracts into a fresh base
  (``KnowledgeBase.open(tmp, embedder=model, embedding_backend=b)``, upsert, commit; the
  model loaded and, for ONNX, exported beforehand); backends interleaved, best of
  ``--repeats``. The raw ``embed_documents`` throughput on the same texts is reported too;
* **query latency**: ``kb.dense_retriever().retrieve(q, k=10)`` one query at a time over the
  300 test queries, the query-vector cache emptied before each, p50; backends interleaved
  query by query so the machine's noise falls on all of them alike;
* **quality**: dense and hybrid nDCG@10 with the whole corpus embedded by each backend
  (bases cached under ``results/work/scifact-kb-512[-backend]``);
* **cross-encoder**: reranking 50 hybrid candidates one query at a time (p50) and pairs/s
  with ``CrossEncoderReranker(model, backend=b)``, on a cross-encoder of MiniLM's shape (the
  all-MiniLM-L6-v2 encoder with a seeded linear head, saved under ``results/work``): the
  speed is the real model's; its scores mean nothing, so only their agreement with torch's
  (top-10 overlap) is reported, not nDCG.

Writes ``results/encoders.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAG_PLUGINS_PROGRESS", "0")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from rag_plugins import KnowledgeBase  # noqa: E402
from rag_plugins.embeddings import SentenceTransformerEmbedder  # noqa: E402
from rag_plugins.eval.beir import load_beir  # noqa: E402
from rag_plugins.eval.runner import evaluate_run, run_queries  # noqa: E402
from rag_plugins.rerank import CrossEncoderReranker  # noqa: E402
from scifact import DATA, WORK, model_path  # noqa: E402

BACKENDS = ("torch", "onnx", "onnx-int8")


def base_dir(backend: str) -> Path:
    return WORK if backend == "torch" else WORK.with_name(f"{WORK.name}-{backend}")


def p50_ms(values: list[float]) -> float:
    return 1000 * statistics.median(values)


def document_encoding(dataset, n: int, repeats: int, path: str) -> dict:
    docs = dataset.corpus[:n]
    embedders = {b: SentenceTransformerEmbedder(path, backend=b) for b in BACKENDS}
    texts = [d.metadata.get("title", "") + "\n" + d.text for d in docs]
    for e in embedders.values():
        e.warm_up()
        e.embed_documents(texts[:16])
    index_s = {b: [] for b in BACKENDS}
    encode_s = {b: [] for b in BACKENDS}
    for _ in range(repeats):
        for b, e in embedders.items():
            with tempfile.TemporaryDirectory() as tmp:
                kb = KnowledgeBase.open(tmp, embedder=e, chunk_size=512, show_progress=False)
                t0 = time.perf_counter()
                kb.upsert(docs)
                kb.commit()
                index_s[b].append(time.perf_counter() - t0)
                kb.close()
            t0 = time.perf_counter()
            e.embed_documents(texts)
            encode_s[b].append(time.perf_counter() - t0)
    out = {b: {"index_docs_per_s": n / min(index_s[b]), "embed_documents_per_s": n / min(encode_s[b])}
           for b in BACKENDS}
    for b in BACKENDS:
        out[b]["index_ratio"] = out[b]["index_docs_per_s"] / out["torch"]["index_docs_per_s"]
        out[b]["embed_ratio"] = out[b]["embed_documents_per_s"] / out["torch"]["embed_documents_per_s"]
    return {"documents": n, "repeats": repeats, **out}


def open_bases(dataset, path: str) -> dict[str, KnowledgeBase]:
    bases = {}
    for b in BACKENDS:
        t0 = time.perf_counter()
        kb = KnowledgeBase.open(base_dir(b), embedder=path, embedding_backend=b, chunk_size=512,
                                show_progress=True)
        kb.upsert(dataset.corpus)
        report = kb.commit()
        print(f"{b}: {kb.chunk_count} chunks, {report.chunks_embedded} embedded now "
              f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
        bases[b] = kb
    return bases


def quality(bases: dict[str, KnowledgeBase], dataset) -> dict:
    out = {}
    for b, kb in bases.items():
        out[b] = {}
        for name, retriever in (("dense", kb.dense_retriever()), ("hybrid", kb.hybrid_retriever())):
            run, _ = run_queries(retriever, dataset, k=100, batch_size=32, show_progress=False)
            out[b][f"{name}_ndcg@10"] = evaluate_run(run, dataset, cutoffs=(10,))["ndcg@10"]
    for b in BACKENDS:
        out[b]["dense_delta"] = out[b]["dense_ndcg@10"] - out["torch"]["dense_ndcg@10"]
    return out


def query_latency(bases: dict[str, KnowledgeBase], queries: list[str]) -> dict:
    retrievers = {b: kb.dense_retriever() for b, kb in bases.items()}
    times = {b: [] for b in BACKENDS}
    for r in retrievers.values():
        r.retrieve(queries[0], k=10)
    for q in queries:
        for b, r in retrievers.items():
            bases[b].clear_query_cache()
            t0 = time.perf_counter()
            r.retrieve(q, k=10)
            times[b].append(time.perf_counter() - t0)
    out = {b: {"dense_p50_ms": p50_ms(times[b])} for b in BACKENDS}
    for b in BACKENDS:
        out[b]["ratio"] = out[b]["dense_p50_ms"] / out["torch"]["dense_p50_ms"]
    return out


def minilm_shaped_cross_encoder(path: str) -> str:
    """all-MiniLM-L6-v2's encoder with a seeded relevance head, saved once: a cross-encoder
    with the real model's shape and speed (its scores mean nothing)."""
    target = WORK.parent / "cross-encoder-minilm-shape"
    if (target / "config.json").is_file():
        return str(target)
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    torch.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(path, num_labels=1)
    model.save_pretrained(str(target), safe_serialization=True)
    AutoTokenizer.from_pretrained(path).save_pretrained(str(target))
    return str(target)


def cross_encoder(kb: KnowledgeBase, queries: list[str], path: str, n_queries: int) -> dict:
    folder = minilm_shaped_cross_encoder(path)
    rerankers = {b: CrossEncoderReranker(folder, backend=b) for b in BACKENDS}
    hybrid = kb.hybrid_retriever()
    candidates = [(q, hybrid.retrieve(q, k=50)) for q in queries[:n_queries]]
    for r in rerankers.values():
        r.warm_up()
        r.rerank(*candidates[0])
    times = {b: [] for b in BACKENDS}
    tops = {b: [] for b in BACKENDS}
    for q, hits in candidates:
        for b, r in rerankers.items():
            t0 = time.perf_counter()
            out = r.rerank(q, hits)
            times[b].append(time.perf_counter() - t0)
            tops[b].append({h.chunk.id for h in out[:10]})
    pairs = sum(len(h) for _, h in candidates)
    out = {"queries": len(candidates), "candidates": 50, "model": "all-MiniLM-L6-v2 encoder + seeded head"}
    for b in BACKENDS:
        overlap = statistics.mean(len(a & t) / 10 for a, t in zip(tops[b], tops["torch"]))
        out[b] = {"rerank50_p50_ms": p50_ms(times[b]), "pairs_per_s": pairs / sum(times[b]),
                  "top10_overlap_with_torch": overlap}
    for b in BACKENDS:
        out[b]["ratio"] = out[b]["rerank50_p50_ms"] / out["torch"]["rerank50_p50_ms"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=300, help="abstracts indexed for the throughput figure")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--rerank-queries", type=int, default=20)
    args = parser.parse_args()
    path = model_path()
    dataset = load_beir(DATA, "test")
    queries = list(dataset.queries.values())
    bases = open_bases(dataset, path)
    results = {"dataset": "scifact test", "queries": len(queries),
               "quality": quality(bases, dataset),
               "query_latency": query_latency(bases, queries),
               "document_encoding": document_encoding(dataset, args.sample, args.repeats, path),
               "cross_encoder": cross_encoder(bases["torch"], queries, path, args.rerank_queries)}
    for kb in bases.values():
        kb.close()
    for b in BACKENDS:
        d, q = results["document_encoding"][b], results["query_latency"][b]
        c, m = results["cross_encoder"][b], results["quality"][b]
        print(f"{b:9s} index {d['index_docs_per_s']:5.1f} docs/s (x{d['index_ratio']:.2f}), embed "
              f"{d['embed_documents_per_s']:5.1f}/s (x{d['embed_ratio']:.2f}); dense query p50 "
              f"{q['dense_p50_ms']:5.1f} ms (x{q['ratio']:.2f}); nDCG@10 dense {m['dense_ndcg@10']:.3f} "
              f"({m['dense_delta']:+.3f}) hybrid {m['hybrid_ndcg@10']:.3f}; rerank 50 p50 "
              f"{c['rerank50_p50_ms']:.0f} ms (x{c['ratio']:.2f}), top-10 overlap {c['top10_overlap_with_torch']:.2f}")
    (HERE / "results" / "encoders.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
