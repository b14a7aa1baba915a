"""The ``rag-plugins`` command: index, query, eval."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from rag_plugins.embeddings.sentence_transformer import DEFAULT_EMBEDDING_MODEL
from rag_plugins.errors import RagPluginsError
from rag_plugins.retrievers.fusion import FUSION_METHODS
from rag_plugins.store.knowledge_base import KnowledgeBase

RETRIEVERS = ("bm25", "dense", "hybrid")


def _open_kb(directory: Path, args: argparse.Namespace, dense: bool) -> KnowledgeBase:
    exists = (directory / "kb.sqlite").exists()
    if not dense:
        embedder = None
    elif exists:
        embedder = args.embedding_model  # None: the base reloads its recorded model
    else:
        embedder = args.embedding_model or DEFAULT_EMBEDDING_MODEL
    return KnowledgeBase.open(directory, embedder=embedder,
                              chunk_size=None if exists else args.chunk_size,
                              chunk_overlap=None if exists else args.chunk_overlap)


def _retriever(kb: KnowledgeBase, kind: str, fusion: str) -> Any:
    return kb.hybrid_retriever(method=fusion) if kind == "hybrid" else kb.retriever(kind)


def cmd_index(args: argparse.Namespace) -> int:
    from rag_plugins.loaders import load_documents

    kb = _open_kb(Path(args.kb), args, dense=not args.no_dense)
    with kb:
        docs = list(load_documents(args.paths))
        result = kb.upsert(docs)
        deleted: list[str] = []
        if args.prune:
            prefixes = tuple(Path(p).as_posix().rstrip("/") + "/" for p in args.paths if Path(p).is_dir())
            scanned = {d.id for d in docs}
            stale = [i for i in kb.document_ids() if i.startswith(prefixes) and i not in scanned]
            deleted = kb.delete(stale)
        commit = kb.commit()
    print(f"indexed {len(docs)} document(s) into {args.kb}: {len(result.added)} added, "
          f"{len(result.updated)} updated, {len(result.unchanged)} unchanged, {len(deleted)} deleted; "
          f"{commit.chunks_added} chunk(s) indexed, {commit.chunks_embedded} embedded, "
          f"generation {commit.generation} ({commit.seconds:.1f}s)")
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    directory = Path(args.kb)
    if not (directory / "kb.sqlite").exists():
        raise RagPluginsError(f"{directory} is not a knowledge base; create it with: rag-plugins index PATH --kb {directory}")
    with KnowledgeBase.open(directory, embedder=args.embedding_model) as kb:
        kind = args.retriever
        if kind != "bm25" and kb.embedder is None:
            print(f"note: {directory} is BM25-only; answering with --retriever bm25", file=sys.stderr)
            kind = "bm25"
        filters = json.loads(args.filter) if args.filter else None
        hits = _retriever(kb, kind, args.fusion).retrieve(args.query, k=args.k, filters=filters)
    if args.json:
        print(json.dumps([h.to_dict() for h in hits], indent=2, ensure_ascii=False))
        return 0
    for rank, hit in enumerate(hits, start=1):
        parts = ", ".join(f"{src} {hit.scores[src]:.3f} (#{hit.ranks[src]})" for src in hit.provenance)
        heading = " > ".join(hit.chunk.heading_path)
        print(f"{rank:>2}. [{hit.score:.4f}] {hit.chunk.id}" + (f"  «{heading}»" if heading else ""))
        print(f"    {parts}")
        print("    " + " ".join(hit.chunk.text.split())[:240])
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from rag_plugins.eval.beir import load_beir
    from rag_plugins.eval.runner import EvalResult, evaluate_run, latency_summary, run_queries

    dataset = load_beir(args.dataset, args.split)
    dense = args.retriever != "bm25"
    temp = None
    if args.index_dir:
        directory = Path(args.index_dir)
        if args.rebuild and (directory / "kb.sqlite").exists():
            shutil.rmtree(directory)
    else:
        temp = tempfile.mkdtemp(prefix="rag-plugins-eval-")
        directory = Path(temp)
    try:
        try:
            kb = _open_kb(directory, args, dense)
        except RagPluginsError as exc:
            raise RagPluginsError(f"{exc}\nThe index in {directory} does not match this run; "
                                  "pass --rebuild to rebuild it, or choose another --index-dir") from exc
        with kb:
            if dense and kb.embedder is None:
                raise RagPluginsError(f"{directory} is a BM25-only index; --retriever {args.retriever} "
                                      "needs dense vectors: pass --rebuild or another --index-dir")
            t0 = time.perf_counter()
            result = kb.upsert(dataset.corpus)
            corpus_ids = {d.id for d in dataset.corpus}
            stale = [i for i in kb.document_ids() if i not in corpus_ids]
            kb.delete(stale)
            commit = kb.commit()
            index_seconds = time.perf_counter() - t0
            reused = not result.added and not result.updated and not stale
            print(f"index: {'reused' if reused else 'built'} {directory} "
                  f"({len(result.added)} added, {len(result.updated)} updated, {len(stale)} removed, "
                  f"{commit.chunks_embedded} chunks embedded) in {index_seconds:.1f}s", file=sys.stderr)
            retriever = _retriever(kb, args.retriever, args.fusion)
            t0 = time.perf_counter()
            run, latencies = run_queries(retriever, dataset, k=args.k, batch_size=args.batch_size)
            query_seconds = time.perf_counter() - t0
            model = kb.settings["embedding"]["model_id"] if kb.settings["embedding"] else None
        metrics: dict[str, Any] = dict(evaluate_run(run, dataset, cutoffs=sorted({1, 5, 10, args.k})))
        metrics.update(
            n_queries=len(dataset.queries),
            timings={"index_seconds": index_seconds, "index_reused": reused,
                     "query_seconds": query_seconds,
                     "queries_per_second": len(dataset.queries) / query_seconds if query_seconds else None,
                     "batch_size": args.batch_size, **latency_summary(latencies)},
            config={"dataset": str(args.dataset), "split": args.split, "retriever": args.retriever,
                    "fusion": args.fusion if args.retriever == "hybrid" else None,
                    "embedding_model": model, "k": args.k},
        )
        out = EvalResult(run, metrics)
        out.write_run(args.run_file, tag=f"rag-plugins-{args.retriever}")
        out.write_metrics(args.output)
        print(json.dumps({k: metrics[k] for k in ("ndcg@10", "recall@5", "recall_all@5", "mrr@10", "n_queries")}))
        return 0
    finally:
        if temp:
            shutil.rmtree(temp, ignore_errors=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag-plugins", description="Production retrieval: index, query, evaluate.")
    sub = parser.add_subparsers(dest="command", required=True)

    def model_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--embedding-model", help=f"sentence-transformers id or local path (default for new bases: {DEFAULT_EMBEDDING_MODEL})")
        p.add_argument("--chunk-size", type=int, help="chunk size for a new base (model tokens, or words without a model)")
        p.add_argument("--chunk-overlap", type=int, help="overlap between chunks for a new base")

    p = sub.add_parser("index", help="index files or folders (text, Markdown, JSONL); re-running indexes only what changed")
    p.add_argument("paths", nargs="+")
    p.add_argument("--kb", required=True, help="knowledge-base directory (created if missing)")
    p.add_argument("--no-dense", action="store_true", help="BM25 only, no embedding model")
    p.add_argument("--prune", action="store_true", help="delete documents whose files are gone from the given folders")
    model_args(p)
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("query", help="search a knowledge base")
    p.add_argument("kb")
    p.add_argument("query")
    p.add_argument("--retriever", choices=RETRIEVERS, default="hybrid")
    p.add_argument("--fusion", choices=sorted(FUSION_METHODS), default="rrf")
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--filter", help='metadata filter as JSON, e.g. \'{"lang": "en"}\'')
    p.add_argument("--embedding-model", help="must be the model the base was built with")
    p.add_argument("--json", action="store_true", help="print hits as JSON")
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("eval", help="evaluate a retriever on a BEIR-layout dataset")
    p.add_argument("dataset")
    p.add_argument("--split", default="test")
    p.add_argument("--retriever", choices=RETRIEVERS, default="hybrid")
    p.add_argument("--fusion", choices=sorted(FUSION_METHODS), default="rrf")
    p.add_argument("--index-dir", help="knowledge-base directory to reuse or build (default: a temporary one)")
    p.add_argument("--rebuild", action="store_true", help="rebuild --index-dir if it does not match")
    p.add_argument("--k", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=32, help="queries per batch")
    p.add_argument("--run-file", required=True, help="TREC run file to write")
    p.add_argument("--output", required=True, help="metrics JSON to write")
    model_args(p)
    p.set_defaults(func=cmd_eval)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except RagPluginsError as exc:
        print(f"rag-plugins: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
