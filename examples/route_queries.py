"""Route each query to the memory that suits it (BM25, dense, hybrid or the knowledge
graph), see why, and train a learned router from labeled questions.

    python examples/route_queries.py [--kb DIR]

The rule router needs no training: it reads identifiers, quoted phrases, rare terms,
linked entities and relational wording. The learned router is trained here on 20 of the
demo's 30 HotpotQA questions (each question's best route by nDCG@10 is its label) and
routes the other 10. For real use, train it on your own labeled queries with
``rag-plugins train-router``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _model import example_embedding_model  # noqa: E402

from rag_plugins import KnowledgeBase  # noqa: E402
from rag_plugins.eval.beir import BeirDataset  # noqa: E402
from rag_plugins.eval.metrics import recall_all_at_k  # noqa: E402
from rag_plugins.loaders import load_documents  # noqa: E402
from rag_plugins.routing import LearnedRouter, RoutedRetriever, train_router  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
QUERIES = [
    'Which film featurette has the song "Hip Hip Pooh-Ray!"?',
    "when was NYSME incorporated",
    "Lewiston Maineiacs arena seating capacity",
    "How is Kiss and Tell related to Shirley Temple's diplomatic career?",
    "a romantic comedy filmed in a small town in Virginia about a couple who fall for each other late in life",
]


def show(result, kb: KnowledgeBase) -> None:
    d = result.decision
    routes = " + ".join(f"{r} {w:.2f}" for r, w in d.routes.items())
    print(f"  route: {routes} ({d.router}, confidence {d.confidence:.2f})")
    for reason in d.reasons:
        print(f"    why: {reason}")
    if result.hits:
        print(f"    top: {kb.get(result.hits[0].document_id).metadata['title']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", help="knowledge-base directory (default: a temporary one)")
    args = parser.parse_args()
    directory = Path(args.kb) if args.kb else Path(tempfile.mkdtemp(prefix="rag-plugins-routing-"))
    documents = list(load_documents([DATA / "hotpotqa_paragraphs.jsonl"]))
    questions = [json.loads(line) for line in (DATA / "hotpotqa_questions.jsonl").read_text().splitlines()]

    with KnowledgeBase.open(directory, embedder=example_embedding_model(), graph=True, show_progress=True) as kb:
        kb.upsert(documents)
        kb.commit()

        print("Rule router:")
        rules = RoutedRetriever(kb)
        for query in QUERIES:
            print(f"\n{query}")
            show(rules.retrieve_routed(query, k=3), kb)

        train = BeirDataset("demo-train", documents, {q["_id"]: q["text"] for q in questions[:20]},
                            {q["_id"]: {d: 1 for d in q["relevant"]} for q in questions[:20]})
        print(f"\nTraining the learned router on {len(train.queries)} labeled questions...")
        router = train_router(kb, train)
        router.save(directory / "router")
        print(f"\n  labels (best route per question): {router.metadata['oracle_labels']}")
        learned = RoutedRetriever(kb, LearnedRouter.load(directory / "router"))
        hybrid = kb.hybrid_retriever()
        held_out = questions[20:]
        print(f"\nLearned router on the {len(held_out)} other questions:")
        totals = {"learned": 0.0, "hybrid": 0.0}
        for q in held_out:
            result = learned.retrieve_routed(q["text"], k=15)
            judged = {d: 1 for d in q["relevant"]}
            for name, hits in (("learned", result.hits), ("hybrid", hybrid.retrieve(q["text"], k=15))):
                ranked = list(dict.fromkeys(h.document_id for h in hits))
                totals[name] += recall_all_at_k(ranked, judged, 5)
        print(f"\n{held_out[0]['text']}")
        show(learned.retrieve_routed(held_out[0]["text"], k=3), kb)
        print("\nrecall_all@5 on the held-out questions: "
              + ", ".join(f"{name} {value / len(held_out):.2f}" for name, value in totals.items()))


if __name__ == "__main__":
    main()
