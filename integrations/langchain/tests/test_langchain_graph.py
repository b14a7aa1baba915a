"""The LLM triple extractor through a chat model's real structured-output path
(``with_structured_output`` -> ``bind_tools`` -> tool calls -> PydanticToolsParser), with a
small scripted chat model standing in for the LLM."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool

from langchain_rag_plugins import ChatModelTripleExtractor
from rag_plugins import Document, KnowledgeBase
from rag_plugins.errors import ExtractionError

FACTS = {
    "Kiss and Tell": [{"subject": "Kiss and Tell", "relation": "stars", "object": "Shirley Temple"}],
    "Chief of Protocol": [{"subject": "Shirley Temple", "relation": "served as", "object": "Chief of Protocol"}],
}


class ScriptedChatModel(BaseChatModel):
    """Answers with a tool call carrying the triples scripted for the passage it sees."""

    calls: list = []
    broken: bool = False

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        prompt = messages[-1].content
        self.calls.append(prompt)
        triples = [t for key, ts in FACTS.items() if key in prompt for t in ts]
        args = {"triples": "not a list"} if self.broken else {"triples": triples}
        message = AIMessage(content="", tool_calls=[{"name": "Triples", "args": args, "id": f"call-{len(self.calls)}"}])
        return ChatResult(generations=[ChatGeneration(message=message)])


DOCS = [
    Document("film", "Kiss and Tell is a 1945 comedy.", {"title": "Kiss and Tell (1945 film)"}),
    Document("st", "She later served as Chief of Protocol.", {"title": "Shirley Temple"}),
]


def test_triples_from_a_chat_model_build_the_graph_and_are_cached(tmp_path):
    model = ScriptedChatModel(calls=[])
    kb = KnowledgeBase.open(tmp_path, graph=ChatModelTripleExtractor(model, batch_size=1), show_progress=False)
    kb.upsert(DOCS)
    kb.commit()
    assert len(model.calls) == 2
    g = kb.knowledge_graph.graph
    assert g.edges["e:kiss and tell", "e:shirley temple"]["labels"] == {"stars": 1}
    assert g.edges["e:shirley temple", "e:chief of protocol"]["support"] == {"st#0": 1.0}
    hits = kb.graph_retriever("bfs").retrieve("Who starred in Kiss and Tell?", k=2)
    assert [h.document_id for h in hits] == ["film", "st"]

    kb.delete(["st"])
    kb.commit()
    kb.upsert([DOCS[1]])          # the same text again: answered from the cache
    kb.commit()
    assert len(model.calls) == 2
    kb.upsert([Document("st", "She served as Chief of Protocol in 1976.", {"title": "Shirley Temple"})])
    kb.commit()
    assert len(model.calls) == 3  # only the changed chunk is asked


def test_unusable_model_output_is_a_typed_error_and_changes_nothing(tmp_path):
    kb = KnowledgeBase.open(tmp_path, graph=ChatModelTripleExtractor(ScriptedChatModel(calls=[], broken=True)),
                            show_progress=False)
    kb.upsert(DOCS)
    with pytest.raises(ExtractionError, match="could not extract triples"):
        kb.commit()
    assert kb.generation == 0 and len(kb) == 0
