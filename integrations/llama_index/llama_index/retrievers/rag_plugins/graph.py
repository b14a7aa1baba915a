"""Knowledge-graph triples from any LlamaIndex LLM, through ``structured_predict``."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from llama_index.core.llms import LLM
from llama_index.core.prompts import PromptTemplate

from rag_plugins.graph.llm import TRIPLE_PROMPT, LLMTripleExtractor
from rag_plugins.graph.schema import Triples


class LLMTripleExtractorForLlamaIndex(LLMTripleExtractor):
    """Extract (subject, relation, object) triples with a LlamaIndex LLM's
    ``structured_predict`` (function calling where the LLM has it, else a validated JSON
    completion), ``max_workers`` chunks at a time.

    Pass it to ``KnowledgeBase.open(path, graph=LLMTripleExtractorForLlamaIndex(llm))``;
    the knowledge base caches answers by chunk content, so re-indexing is free::

        from llama_index.llms.openai import OpenAI
        kb = KnowledgeBase.open("kb", graph=LLMTripleExtractorForLlamaIndex(OpenAI(model="gpt-4o-mini")))
    """

    def __init__(self, llm: LLM, *, batch_size: int = 8, max_triples: int = 32, prompt: str = TRIPLE_PROMPT,
                 max_workers: int = 4, model: str | None = None):
        template = PromptTemplate("{request}")

        def one(request: str) -> Any:
            return llm.structured_predict(Triples, template, request=request)

        def predict(prompts: list[str]) -> list[Any]:
            with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(prompts)))) as pool:
                return list(pool.map(one, prompts))

        name = model or getattr(llm.metadata, "model_name", None) or type(llm).__name__
        super().__init__(predict, model=str(name), batch_size=batch_size, max_triples=max_triples, prompt=prompt)
