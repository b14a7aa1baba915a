"""Knowledge-graph triples from any LangChain chat model, through its structured output."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel

from rag_plugins.graph.llm import TRIPLE_PROMPT, LLMTripleExtractor
from rag_plugins.graph.schema import Triples


class ChatModelTripleExtractor(LLMTripleExtractor):
    """Extract (subject, relation, object) triples with a chat model's
    ``with_structured_output`` (tool calling), a batch of chunks at a time.

    Pass it to ``KnowledgeBase.open(path, graph=ChatModelTripleExtractor(model))``; the
    knowledge base caches its answers by chunk content, so re-indexing is free::

        from langchain_openai import ChatOpenAI
        kb = KnowledgeBase.open("kb", graph=ChatModelTripleExtractor(ChatOpenAI(model="gpt-4o-mini")))
    """

    def __init__(self, chat_model: BaseChatModel, *, batch_size: int = 8, max_triples: int = 32,
                 prompt: str = TRIPLE_PROMPT, max_concurrency: int | None = 4, model: str | None = None):
        structured = chat_model.with_structured_output(Triples)

        def predict(prompts: list[str]) -> list[Any]:
            return structured.batch(prompts, config={"max_concurrency": max_concurrency})

        super().__init__(predict, model=model or _model_name(chat_model), batch_size=batch_size,
                         max_triples=max_triples, prompt=prompt)


def _model_name(chat_model: Any) -> str:
    for attr in ("model_name", "model", "model_id"):
        value = getattr(chat_model, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(chat_model).__name__
