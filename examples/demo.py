"""Index 300 Wikipedia paragraphs and search them with BM25, dense vectors, hybrid fusion
and the knowledge graph.

    python examples/demo.py [--kb DIR] [--limit N]

For every hit it prints the document, the fused score, and each retriever's own score and
rank. Then it answers a two-hop question through the graph and prints the evidence path
that led to each paragraph. Run it twice with the same --kb: the second run re-embeds nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _model import example_embedding_model  # noqa: E402

from rag_plugins import KnowledgeBase  # noqa: E402
from rag_plugins.graph import GraphExpandedRetriever  # noqa: E402
from rag_plugins.loaders import load_documents  # noqa: E402

CORPUS = Path(__file__).resolve().parent / "data" / "hotpotqa_paragraphs.jsonl"
QUERIES = [
    "What government position was held by the woman who portrayed Corliss Archer in the film Kiss and Tell?",
    "Lewiston Maineiacs arena seating capacity",
    "romantic comedy directed in a small Virginia town",
]
RELATIONAL = "How is Kiss and Tell related to Shirley Temple's diplomatic career?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", help="knowledge-base directory (default: a temporary one)")
    parser.add_argument("--limit", type=int, default=None, help="index only the first N paragraphs")
    parser.add_argument("--k", type=int, default=3)
    args = parser.parse_args()
    if args.kb:
        demo(Path(args.kb), args)
        return
    with tempfile.TemporaryDirectory(prefix="rag-plugins-demo-") as temp:  # removed afterwards
        demo(Path(temp), args)
    print("(the temporary base is removed; pass --kb DIR to keep it)")


def demo(directory: Path, args: argparse.Namespace) -> None:
    documents = list(load_documents([CORPUS]))[: args.limit]
    print(f"Indexing {len(documents)} HotpotQA paragraphs (CC BY-SA 4.0) into {directory}")
    started = time.perf_counter()
    with KnowledgeBase.open(directory, embedder=example_embedding_model(), graph=True, show_progress=True) as kb:
        staged = kb.upsert(documents)
        commit = kb.commit()
        print(f"  {len(staged.added)} added, {len(staged.updated)} updated, {len(staged.unchanged)} unchanged; "
              f"{commit.chunks_added} chunks, {commit.chunks_embedded} embedded, "
              f"{time.perf_counter() - started:.1f}s\n")
        hybrid = kb.hybrid_retriever()
        for query in QUERIES:
            print(f"Q: {query}")
            for rank, hit in enumerate(hybrid.retrieve(query, k=args.k), start=1):
                title = hit.chunk.metadata.get("title", hit.document_id)
                sources = "  ".join(
                    f"{name}: score {hit.scores[name]:.3f}, rank {hit.ranks[name]}"
                    if name in hit.scores else f"{name}: not retrieved"
                    for name in ("bm25", "dense")
                )
                print(f"  {rank}. {title}  [fused {hit.score:.4f}]")
                print(f"     {sources}")
                print(f"     {' '.join(hit.chunk.text.split())[:150]}")
            print()
        show_graph(kb, args.k)


def show_graph(kb: KnowledgeBase, k: int) -> None:
    """A relational question through the graph, then the two-hop question with the graph
    expanding what hybrid retrieval found: each hit with the path that reached it."""
    graph = kb.graph_retriever("paths")
    print(f"Q (graph, paths): {RELATIONAL}")
    print("  seeds: " + ", ".join(f"{s.name} ({s.how})" for s in graph.seeds(RELATIONAL)))
    for rank, hit in enumerate(graph.retrieve(RELATIONAL, k=k), start=1):
        print(f"  {rank}. {hit.chunk.metadata.get('title', hit.document_id)}  [graph {hit.score:.4f}]")
        for path in hit.evidence["paths"][:1]:
            print(f"     path: {path}")
    print()
    expanded = GraphExpandedRetriever(kb.hybrid_retriever(), kb.graph_retriever())
    print(f"Q (graph+hybrid): {QUERIES[0]}")
    for rank, hit in enumerate(expanded.retrieve(QUERIES[0], k=k), start=1):
        via = ", ".join(hit.provenance)
        print(f"  {rank}. {hit.chunk.metadata.get('title', hit.document_id)}  [fused {hit.score:.4f}; from {via}]")
        for path in hit.evidence.get("paths", [])[:1]:
            print(f"     path: {path}")
    print()


if __name__ == "__main__":
    main()
