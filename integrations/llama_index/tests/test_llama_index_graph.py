"""The LLM triple extractor through LlamaIndex's real ``structured_predict`` (prompt
template, output parser, pydantic validation), with a small scripted LLM standing in."""

from __future__ import annotations

import json

import pytest
from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata
from llama_index.core.llms.callbacks import llm_completion_callback

from llama_index.retrievers.rag_plugins import LLMTripleExtractorForLlamaIndex
from rag_plugins import Document, KnowledgeBase
from rag_plugins.errors import ExtractionError

FACTS = {
    "Kiss and Tell": [{"subject": "Kiss and Tell", "relation": "stars", "object": "Shirley Temple"}],
    "Chief of Protocol": [{"subject": "Shirley Temple", "relation": "served as", "object": "Chief of Protocol"}],
}


class ScriptedLLM(CustomLLM):
    """Completes with the JSON triples scripted for the passage in the prompt."""

    prompts: list = []
    broken: bool = False

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="scripted")

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs) -> CompletionResponse:
        self.prompts.append(prompt)
        if self.broken:
            return CompletionResponse(text="I cannot answer that.")
        passage = prompt.split("Passage:")[-1]
        triples = [t for key, ts in FACTS.items() if key in passage for t in ts]
        return CompletionResponse(text=json.dumps({"triples": triples}))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs):
        yield self.complete(prompt)


DOCS = [
    Document("film", "Kiss and Tell is a 1945 comedy.", {"title": "Kiss and Tell (1945 film)"}),
    Document("st", "She later served as Chief of Protocol.", {"title": "Shirley Temple"}),
]


def test_triples_from_a_llama_index_llm_build_the_graph_and_are_cached(tmp_path):
    llm = ScriptedLLM(prompts=[])
    kb = KnowledgeBase.open(tmp_path, graph=LLMTripleExtractorForLlamaIndex(llm), show_progress=False)
    kb.upsert(DOCS)
    kb.commit()
    assert len(llm.prompts) == 2
    g = kb.knowledge_graph.graph
    assert g.edges["e:shirley temple", "e:chief of protocol"]["labels"] == {"served as": 1}
    assert kb.settings["graph"]["model"] == "scripted"
    kb.upsert([DOCS[0], Document("st", DOCS[1].text, {"title": "Shirley Temple", "year": 1976})])
    kb.commit()                       # metadata changed, text did not: no new prompt
    assert len(llm.prompts) == 2


def test_unparseable_completion_is_a_typed_error(tmp_path):
    kb = KnowledgeBase.open(tmp_path, graph=LLMTripleExtractorForLlamaIndex(ScriptedLLM(prompts=[], broken=True)),
                            show_progress=False)
    kb.upsert(DOCS)
    with pytest.raises(ExtractionError, match="could not extract triples"):
        kb.commit()
    assert kb.generation == 0
