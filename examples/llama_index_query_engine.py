"""A LlamaIndex query engine over a knowledge base: hybrid retrieval, cross-encoder
reranking as a node postprocessor, and instrumentation events for every stage.

    python examples/llama_index_query_engine.py [--kb DIR] [--limit 40] [--rerank MODEL] [--llm package.module:factory]

``--rerank`` (or ``RAG_PLUGINS_RERANK_MODEL``) names a cross-encoder (a hub id, or a folder
trained with ``rag-plugins train-reranker``); without one the engine keeps the fused
order. An event handler prints each ``SearchTraceEvent``: per-source and rerank scores
and the timings. Without ``--llm`` the engine returns the sources without writing an
answer (``response_mode="no_text"``); pass a factory returning any LlamaIndex LLM for one.
The queries run concurrently through ``aquery``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _kb import demo_kb, example_parser, kb_directory, load_model  # noqa: E402
from llama_index.core import Settings, get_response_synthesizer  # noqa: E402
from llama_index.core.instrumentation import get_dispatcher  # noqa: E402
from llama_index.core.instrumentation.event_handlers import BaseEventHandler  # noqa: E402
from llama_index.core.llms import MockLLM  # noqa: E402
from llama_index.core.query_engine import RetrieverQueryEngine  # noqa: E402

from llama_index.postprocessor.rag_plugins import RagPluginsRerank  # noqa: E402
from llama_index.retrievers.rag_plugins import RagPluginsRetriever, SearchTraceEvent  # noqa: E402

QUESTIONS = ["The director of the romantic comedy \"Big Stone Gap\" is based in what New York city?",
             "2014 S/S is the debut album of a South Korean boy group that was formed by who?"]


class ShowSearches(BaseEventHandler):
    @classmethod
    def class_name(cls) -> str:
        return "ShowSearches"

    def handle(self, event: Any, **kwargs: Any) -> None:
        if isinstance(event, SearchTraceEvent):
            record = event.record
            timings = ", ".join(f"{stage} {1000 * s:.1f} ms" for stage, s in record["timings"].items())
            top = record["hits"][0]["scores"] if record["hits"] else {}
            print(f"  [{record['retriever']}] {len(record['hits'])} hits; top scores {_rounded(top)}; {timings}")


def _rounded(scores: dict[str, float]) -> dict[str, float]:
    return {source: round(score, 3) for source, score in scores.items()}


def main() -> None:
    parser = example_parser(__doc__)
    parser.add_argument("--rerank", default=os.environ.get("RAG_PLUGINS_RERANK_MODEL"), help="cross-encoder id or folder")
    parser.add_argument("--llm", help="package.module:factory returning a LlamaIndex LLM")
    args = parser.parse_args()
    get_dispatcher().add_event_handler(ShowSearches())
    with demo_kb(kb_directory(args, "llama-index"), args.limit) as kb:
        postprocessors = []
        if args.rerank:
            from rag_plugins.rerank import CrossEncoderReranker

            postprocessors.append(RagPluginsRerank(CrossEncoderReranker(args.rerank), top_n=3))
        if args.llm:
            synthesizer = get_response_synthesizer(llm=load_model(args.llm))
        else:
            Settings.llm = MockLLM()  # NoText reads Settings.llm even though it never calls it
            synthesizer = get_response_synthesizer(response_mode="no_text")
        engine = RetrieverQueryEngine(retriever=RagPluginsRetriever(kb.hybrid_retriever(), similarity_top_k=10),
                                      node_postprocessors=postprocessors, response_synthesizer=synthesizer)

        async def ask_all() -> list:
            return await asyncio.gather(*(engine.aquery(q) for q in QUESTIONS))

        for question, response in zip(QUESTIONS, asyncio.run(ask_all())):
            print(f"\nQ: {question}")
            if args.llm:
                print(f"A: {response}")
            for node in response.source_nodes[:3]:
                print(f"  {node.score:.3f}  {node.node.metadata['title']}  {_rounded(node.node.metadata['scores'])}")


if __name__ == "__main__":
    main()
