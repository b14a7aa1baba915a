"""Multi-hop questions need a second search that the first one makes possible: ITER-RETGEN
feeds what the first retrieval found back into the next query.

    python examples/iterative_retrieval.py [--kb DIR] [--iterations 2] [--llm package.module:factory]

Without a language model, the offline extractive generator bridges the hops: it picks the
sentences of the current hits that name something the question does not, and the loop
searches again with those names. The 30 demo HotpotQA questions are answered single-shot
and iteratively, and one question's trace is streamed step by step. With ``--llm`` (a
zero-argument callable returning a LangChain chat model or a LlamaIndex LLM), the same
loop runs with that model writing the answer, behind an adaptive gate.
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
from rag_plugins.eval.metrics import recall_all_at_k  # noqa: E402
from rag_plugins.generation import ExtractiveBridgeGenerator  # noqa: E402
from rag_plugins.iterative import AdaptiveRetrieval, IterativeRetriever, IterRetGen, Step  # noqa: E402
from rag_plugins.loaders import load_documents  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
TRACED = "What government position was held by the woman who portrayed Corliss Archer in the film Kiss and Tell?"


def title(kb: KnowledgeBase, doc_id: str) -> str:
    return kb.get(doc_id).metadata.get("title", doc_id)


def llm_generator(spec: str):
    """A generator from ``package.module:factory`` (LangChain chat model or LlamaIndex LLM)."""
    import importlib

    module, _, attr = spec.partition(":")
    model = getattr(importlib.import_module(module), attr)()
    if hasattr(model, "invoke"):
        from langchain_rag_plugins import LangChainGenerator

        return LangChainGenerator(model)
    from llama_index.retrievers.rag_plugins import LlamaIndexGenerator

    return LlamaIndexGenerator(model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", help="knowledge-base directory (default: a temporary one)")
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--llm", metavar="MODULE:FACTORY", help="also answer with this model behind an adaptive gate")
    args = parser.parse_args()
    directory = Path(args.kb) if args.kb else Path(tempfile.mkdtemp(prefix="rag-plugins-iterative-"))
    documents = list(load_documents([DATA / "hotpotqa_paragraphs.jsonl"]))
    questions = [json.loads(line) for line in (DATA / "hotpotqa_questions.jsonl").read_text().splitlines()]

    with KnowledgeBase.open(directory, embedder=example_embedding_model(), show_progress=True) as kb:
        kb.upsert(documents)
        kb.commit()
        hybrid = kb.hybrid_retriever()
        pipeline = IterRetGen(hybrid, ExtractiveBridgeGenerator(kb), iterations=args.iterations)

        print(f"Streaming the trace of: {TRACED}")
        for event in pipeline.stream(TRACED):
            if isinstance(event, Step) and event.kind == "retrieval":
                found = ", ".join(dict.fromkeys(title(kb, h.document_id) for h in event.hits[:3]))
                print(f"  search {event.details['iteration'] + 1}: {event.query!r}\n    found: {found}")
            elif isinstance(event, Step):
                print(f"  bridge: {event.generation.text!r}")
            else:
                merged = ", ".join(title(kb, h.document_id) for h in event.hits[:5])
                print(f"  stopped: {event.stop_reason}; merged top 5: {merged}")

        texts = [q["text"] for q in questions]
        single = hybrid.batch_retrieve(texts, k=5)
        iterative = IterativeRetriever(pipeline).batch_retrieve(texts, k=5)
        scores = {}
        for name, runs in (("single-shot hybrid", single), (f"iterative ({args.iterations} rounds)", iterative)):
            found = [recall_all_at_k(list(dict.fromkeys(h.document_id for h in hits)),
                                     {d: 1 for d in q["relevant"]}, 5)
                     for hits, q in zip(runs, questions)]
            scores[name] = sum(found) / len(found)
        print(f"\nrecall_all@5 on the {len(questions)} demo questions: "
              + ", ".join(f"{name} {value:.2f}" for name, value in scores.items()))

        if args.llm:
            generator = llm_generator(args.llm)
            gate = AdaptiveRetrieval(hybrid, generator, pipeline=IterRetGen(hybrid, generator, iterations=2))
            for q in texts[:5]:
                result = gate.run(q)
                print(f"\n{q}\n  [{result.path}] {result.answer}")
            print(f"\npaths taken: {gate.path_rates()}")


if __name__ == "__main__":
    main()
