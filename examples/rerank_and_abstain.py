"""Rerank hybrid candidates with a cross-encoder, diversify with MMR, and abstain when the
evidence is weak.

    python examples/rerank_and_abstain.py [--kb DIR] [--limit N]

The cross-encoder is ``RAG_PLUGINS_RERANK_MODEL`` (an id or a folder, e.g. one trained with
``rag-plugins train-reranker``), else cross-encoder/ms-marco-MiniLM-L-6-v2. The confidence
model is fitted here on a small labelled set built from the corpus (each paragraph's title
as a question about it, plus off-topic questions); in production, fit it with
``rag-plugins calibrate`` on your own labelled queries.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _model import example_embedding_model, example_rerank_model  # noqa: E402

from rag_plugins import KnowledgeBase  # noqa: E402
from rag_plugins.confidence import AbstainingRetriever, ConfidenceEstimator  # noqa: E402
from rag_plugins.loaders import load_documents  # noqa: E402
from rag_plugins.rerank import CrossEncoderReranker, MMRReranker, RerankedRetriever  # noqa: E402

CORPUS = Path(__file__).resolve().parent / "data" / "hotpotqa_paragraphs.jsonl"
OFF_TOPIC = [
    "What is the boiling point of liquid nitrogen?", "How do I configure a Kubernetes ingress?",
    "Best sourdough hydration for a beginner", "Who proved Fermat's last theorem?",
    "What is the half-life of carbon-14?", "How many moons does Neptune have?",
    "Which enzyme unwinds DNA during replication?", "How does a transistor amplify current?",
    "What causes the northern lights?", "Average rainfall in the Atacama desert",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", help="knowledge-base directory (default: a temporary one)")
    parser.add_argument("--limit", type=int, default=None, help="index only the first N paragraphs")
    args = parser.parse_args()

    directory = Path(args.kb) if args.kb else Path(tempfile.mkdtemp(prefix="rag-plugins-rerank-"))
    documents = list(load_documents([CORPUS]))[: args.limit]
    with KnowledgeBase.open(directory, embedder=example_embedding_model(), show_progress=True) as kb:
        kb.upsert(documents)
        kb.commit()

        reranker = CrossEncoderReranker(example_rerank_model())
        reranked = RerankedRetriever(kb.hybrid_retriever(), reranker, depth=20)
        pipeline = RerankedRetriever(reranked, MMRReranker(kb, lambda_=0.7, relevance="score"), depth=10)
        query = "romantic comedy directed in a small Virginia town"
        print(f"Q: {query}  (hybrid top 20 -> cross-encoder -> MMR)")
        for rank, hit in enumerate(pipeline.retrieve(query, k=3), start=1):
            stages = ", ".join(f"{name} {hit.scores[name]:.3f} (#{hit.ranks[name]})"
                               for name in ("bm25", "dense", "hybrid", "rerank", "mmr") if name in hit.scores)
            print(f"  {rank}. {hit.chunk.metadata.get('title', hit.document_id)}: {stages}")

        # A labelled set: a paragraph's title asks about it; off-topic questions have no answer here.
        titled = [d for d in documents if d.metadata.get("title")][:30]
        questions = [f"Tell me about {d.metadata['title']}" for d in titled] + OFF_TOPIC
        hit_lists = reranked.batch_retrieve(questions, k=10)
        labels = [int(any(h.document_id == d.id for h in hits[:5])) for d, hits in zip(titled, hit_lists)]
        labels += [0] * len(OFF_TOPIC)
        estimator = ConfidenceEstimator(threshold=0.5).fit(hit_lists, labels)
        guarded = AbstainingRetriever(reranked, estimator)
        print("\nConfidence (fitted on", len(labels), "labelled questions):")
        for question in (f"Tell me about {titled[0].metadata['title']}", "Who proved the Poincaré conjecture?"):
            result = guarded.retrieve_with_confidence(question, k=5)
            verdict = result.message if result.abstained else f"answer from {result.hits[0].chunk.metadata.get('title')}"
            print(f"  Q: {question}\n     {result.confidence.status}, confidence {result.confidence.value:.2f}: {verdict}")


if __name__ == "__main__":
    main()
