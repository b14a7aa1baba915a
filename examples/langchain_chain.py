"""An LCEL chain over a knowledge base: routed retrieval, a prompt, a chat model.

    python examples/langchain_chain.py [--kb DIR] [--limit 40] [--llm package.module:factory]

The retriever lets the router pick BM25, dense, hybrid or graph retrieval per question.
Passages reach the prompt marked as untrusted data with their source ids. A callback
prints what ``on_retriever_end`` receives: the route and why, each source's scores and
the timings. Without ``--llm`` a stand-in model answers by quoting the best passage, so
the chain runs offline; pass a zero-argument factory returning any LangChain chat model
(``ChatOpenAI``, ``ChatOllama``...) for real answers.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _kb import demo_kb, example_parser, kb_directory, load_model  # noqa: E402
from langchain_core.callbacks import BaseCallbackHandler  # noqa: E402
from langchain_core.messages import AIMessage  # noqa: E402
from langchain_core.output_parsers import StrOutputParser  # noqa: E402
from langchain_core.prompts import ChatPromptTemplate  # noqa: E402
from langchain_core.runnables import RunnableLambda, RunnablePassthrough  # noqa: E402

from langchain_rag_plugins import RagPluginsRetriever, documents_to_hits  # noqa: E402
from rag_plugins.routing import RoutedRetriever  # noqa: E402
from rag_plugins.tools import format_passages, read_passages  # noqa: E402

QUESTIONS = ["when was NYSME incorporated",
             "What government position was held by the woman who portrayed Corliss Archer in the film Kiss and Tell?"]
PROMPT = ChatPromptTemplate.from_messages([
    ("system", "Answer from the passages only and cite their sources. If they do not hold the answer, say so."),
    ("human", "{context}\n\nQuestion: {question}"),
])


class ShowRetrieval(BaseCallbackHandler):
    """What a tracing callback sees when the retriever ends."""

    def on_retriever_end(self, documents, **kwargs) -> None:
        if not documents:
            return
        meta = documents[0].metadata
        route = meta["evidence"].get("route", {})
        print(f"  route: {', '.join(route.get('routes', {}))}  why: {'; '.join(route.get('reasons', []))}")
        timings = ", ".join(f"{stage} {1000 * s:.1f} ms" for stage, s in meta["timings"].items())
        print(f"  timings: {timings}")
        for doc in documents[:3]:
            scores = ", ".join(f"{src} {score:.3f}" for src, score in doc.metadata["scores"].items())
            print(f"  {doc.metadata['title']}: {scores}")


def quote_best_passage(prompt) -> AIMessage:
    """The offline stand-in for a chat model: the first sentence of the best passage."""
    passages = read_passages(prompt.to_string())
    if not passages:
        return AIMessage("The knowledge base does not say.")
    best = passages[0]
    return AIMessage(f"{best['text'].split('. ')[0].strip()}. [{best['source']}]")


def chat_model(spec: str | None):
    if not spec:
        return RunnableLambda(quote_best_passage)
    return load_model(spec)


def main() -> None:
    parser = example_parser(__doc__)
    parser.add_argument("--llm", help="package.module:factory returning a LangChain chat model")
    args = parser.parse_args()
    with demo_kb(kb_directory(args, "lcel"), args.limit) as kb:
        retriever = RagPluginsRetriever(retriever=RoutedRetriever(kb), k=4)
        context = retriever | RunnableLambda(lambda docs: format_passages(documents_to_hits(docs)))
        chain = {"context": context, "question": RunnablePassthrough()} | PROMPT | chat_model(args.llm) | StrOutputParser()
        for question in QUESTIONS:
            print(f"\nQ: {question}")
            answer = chain.invoke(question, config={"callbacks": [ShowRetrieval()]})
            print(f"A: {answer}")
        answers = asyncio.run(chain.abatch(QUESTIONS))  # the same chain, concurrently, off the event loop
        print(f"\nabatch answered {len(answers)} questions concurrently")


if __name__ == "__main__":
    main()
