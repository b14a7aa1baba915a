"""Hybrid retrieval side by side with LangChain's EnsembleRetriever and LlamaIndex's
QueryFusionRetriever, on SciFact test, one query at a time, k=10.

    .venv/bin/pip install langchain-community rank-bm25 langchain-huggingface \\
        llama-index-retrievers-bm25 llama-index-embeddings-huggingface
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/framework_hybrid.py

Every system runs in its own process pinned to CPU 0 with one thread (torch, BLAS and ONNX
Runtime), one after another, over the same chunks: those of the SciFact bases that
``benchmarks/encoders.py`` builds (512-token chunks, title above the text), with the same
all-MiniLM-L6-v2 and the same corpus vectors, read from our torch base and injected into the
peers' vector stores, so no peer re-embeds the corpus. Each system embeds its own queries.

* **rag-plugins**: ``kb.hybrid_retriever().retrieve(q, k=10)`` as a user calls it (the
  query-vector cache emptied before each query), on the torch base and on the onnx-int8
  base; and ``DistinctDocuments`` over it, which returns 10 distinct documents;
* **LangChain**: ``EnsembleRetriever([BM25Retriever, FAISS.as_retriever()], weights=[0.5, 0.5])``
  with ``HuggingFaceEmbeddings`` for the queries; both parts asked for 10, and the ensemble
  returns their union (up to 20); its first 10 are scored;
* **LlamaIndex**: ``QueryFusionRetriever([VectorStoreIndex(nodes).as_retriever(), BM25Retriever],
  similarity_top_k=10, num_queries=1, mode="reciprocal_rerank")`` with ``HuggingFaceEmbedding``.

nDCG@10 is by document (a document's first chunk in the list counts, later ones are skipped);
"distinct" is the mean number of distinct documents among the first 10 results returned.
Writes ``results/framework_hybrid.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SYSTEMS = ("rag-plugins", "rag-plugins onnx-int8", "rag-plugins distinct", "langchain", "llamaindex")


def pin_to_one_thread() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    import torch

    torch.set_num_threads(1)


def corpus_from_base(kb) -> tuple[list[str], list[str], list[str], "object"]:
    """The base's chunk ids, document ids, indexed texts and vectors, in row order."""
    from rag_plugins.store.documents import index_text

    snap = kb.searchable_snapshot()
    rows = snap.rows.tolist()
    chunks = kb.store.chunks_by_row(rows)
    vectors = snap.index("vectors").vectors.reconstruct(snap.rows)
    ordered = [chunks[r] for r in rows]
    texts = [index_text(c, kb.settings["index_context"]) for c in ordered]
    return [c.id for c in ordered], [c.document_id for c in ordered], texts, vectors


def time_queries(search, queries: list[str], before=None) -> tuple[list[float], list[list[str]]]:
    search(queries[0])
    latencies, runs = [], []
    for q in queries:
        if before is not None:
            before()
        t0 = time.perf_counter()
        docs = search(q)
        latencies.append(time.perf_counter() - t0)
        runs.append(docs)
    return latencies, runs


def worker(system: str) -> dict:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("RAG_PLUGINS_PROGRESS", "0")
    pin_to_one_thread()
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent))
    from encoders import base_dir
    from rag_plugins import KnowledgeBase
    from rag_plugins.eval.beir import load_beir
    from scifact import DATA, model_path

    dataset = load_beir(DATA, "test")
    queries = list(dataset.queries.values())
    path = model_path()
    if system.startswith("rag-plugins"):
        from rag_plugins.retrievers import DistinctDocuments

        kb = KnowledgeBase.open(base_dir("onnx-int8" if system.endswith("onnx-int8") else "torch"), read_only=True)
        retriever = kb.hybrid_retriever()
        if system.endswith("distinct"):
            retriever = DistinctDocuments(retriever)
        latencies, runs = time_queries(lambda q: [h.document_id for h in retriever.retrieve(q, k=10)], queries,
                                       kb.clear_query_cache)
    else:
        with KnowledgeBase.open(base_dir("torch"), read_only=True) as kb:
            ids, doc_ids, texts, vectors = corpus_from_base(kb)
        search = langchain_search if system == "langchain" else llamaindex_search
        latencies, runs = time_queries(search(path, ids, doc_ids, texts, vectors), queries)
    return {"latencies": latencies, "runs": runs, "qids": list(dataset.queries)}


def langchain_search(path, ids, doc_ids, texts, vectors):
    from langchain_classic.retrievers import EnsembleRetriever
    from langchain_community.retrievers import BM25Retriever
    from langchain_community.vectorstores import FAISS
    from langchain_huggingface import HuggingFaceEmbeddings

    embeddings = HuggingFaceEmbeddings(model_name=path, model_kwargs={"device": "cpu"},
                                       encode_kwargs={"normalize_embeddings": True})
    metadatas = [{"doc": d} for d in doc_ids]
    store = FAISS.from_embeddings(list(zip(texts, vectors.tolist())), embeddings, metadatas=metadatas, ids=ids)
    bm25 = BM25Retriever.from_texts(texts, metadatas=metadatas, k=10)
    ensemble = EnsembleRetriever(retrievers=[bm25, store.as_retriever(search_kwargs={"k": 10})], weights=[0.5, 0.5])
    return lambda q: [d.metadata["doc"] for d in ensemble.invoke(q)]


def llamaindex_search(path, ids, doc_ids, texts, vectors):
    import Stemmer
    from llama_index.core import VectorStoreIndex
    from llama_index.core.llms import MockLLM
    from llama_index.core.retrievers import QueryFusionRetriever
    from llama_index.core.schema import TextNode
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.retrievers.bm25 import BM25Retriever

    nodes = [TextNode(id_=i, text=t, metadata={"doc": d}, embedding=v)
             for i, d, t, v in zip(ids, doc_ids, texts, vectors.tolist())]
    index = VectorStoreIndex(nodes, embed_model=HuggingFaceEmbedding(model_name=path, device="cpu"))
    bm25 = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=10, stemmer=Stemmer.Stemmer("english"),
                                       language="english")
    fusion = QueryFusionRetriever([index.as_retriever(similarity_top_k=10), bm25], similarity_top_k=10,
                                  num_queries=1, mode="reciprocal_rerank", use_async=False, llm=MockLLM())
    return lambda q: [n.node.metadata["doc"] for n in fusion.retrieve(q)]


def score(result: dict) -> dict:
    sys.path.insert(0, str(HERE.parent))
    from rag_plugins.eval.beir import load_beir
    from rag_plugins.eval.metrics import ndcg_at_k

    qrels = load_beir(HERE.parent.parent / "shared" / "data" / "scifact", "test").qrels
    ndcgs, distinct, returned = [], [], []
    for qid, docs in zip(result["qids"], result["runs"]):
        ndcgs.append(ndcg_at_k(list(dict.fromkeys(docs))[:10], qrels[qid], 10))
        distinct.append(len(set(docs[:10])))
        returned.append(len(docs))
    lat = sorted(result["latencies"])
    return {"p50_ms": 1000 * statistics.median(lat), "p95_ms": 1000 * lat[int(0.95 * (len(lat) - 1))],
            "ndcg@10": statistics.mean(ndcgs), "distinct_in_top10": statistics.mean(distinct),
            "mean_returned": statistics.mean(returned)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=SYSTEMS, help=argparse.SUPPRESS)
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    table = {}
    for system in args.systems:
        out = subprocess.run([sys.executable, __file__, "--worker", system], env=env, capture_output=True, text=True)
        if out.returncode:
            sys.exit(f"{system} failed:\n{out.stderr[-3000:]}")
        table[system] = score(json.loads(out.stdout.strip().splitlines()[-1]))
        row = table[system]
        print(f"{system:22s} p50 {row['p50_ms']:6.1f} ms  p95 {row['p95_ms']:6.1f} ms  nDCG@10 {row['ndcg@10']:.3f}  "
              f"distinct docs in top 10 {row['distinct_in_top10']:.1f}  returned {row['mean_returned']:.1f}",
              flush=True)
    for peer in ("langchain", "llamaindex"):
        for ours in ("rag-plugins", "rag-plugins onnx-int8", "rag-plugins distinct"):
            if peer in table and ours in table:
                table[ours][f"p50_vs_{peer}"] = table[ours]["p50_ms"] / table[peer]["p50_ms"]
                table[ours][f"ndcg_minus_{peer}"] = table[ours]["ndcg@10"] - table[peer]["ndcg@10"]
    (HERE / "results" / "framework_hybrid.json").write_text(json.dumps(table, indent=1) + "\n")


if __name__ == "__main__":
    main()
