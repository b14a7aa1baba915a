"""Real LlamaIndex agent loops (``FunctionAgent``, ``ReActAgent``) whose LLM is scripted
(LlamaIndex's own ``MockFunctionCallingLLM``) to call rag-plugins tools: the tool result
must reach the LLM's next turn."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from llama_index.core.agent.workflow import FunctionAgent, ReActAgent, ToolCallResult
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.llms.mock import MockFunctionCallingLLM

from llama_index.retrievers.rag_plugins import as_llama_index_tools, retriever_tool
from rag_plugins.tools import Toolkit, read_passages

Turn = Callable[[list[ChatMessage]], ChatMessage]


def scripted(*turns: Turn) -> tuple[MockFunctionCallingLLM, list[list[ChatMessage]]]:
    """An LLM that plays ``turns`` in order (each a function of the messages it is shown)."""
    seen: list[list[ChatMessage]] = []

    def respond(messages: list[ChatMessage], **kwargs: Any) -> ChatMessage:
        seen.append(list(messages))
        return turns[len(seen) - 1](list(messages))

    return MockFunctionCallingLLM(response_generator=respond), seen


def call(name: str, call_id: str, **kwargs: Any) -> Turn:
    return lambda messages: ChatMessage(role="assistant", blocks=[ToolCallBlock(tool_call_id=call_id, tool_name=name,
                                                                                tool_kwargs=kwargs)])


def cite_last_tool_result(messages: list[ChatMessage]) -> ChatMessage:
    tool_message = next(m for m in reversed(messages) if m.role == MessageRole.TOOL)
    passage = read_passages(tool_message.content)[0]
    return ChatMessage(role="assistant", content=f"{passage['text']} [{passage['source']}]")


@pytest.fixture(scope="module")
def tools(routing_kb):
    return as_llama_index_tools(Toolkit.from_knowledge_base(routing_kb, iterative=False))


@pytest.mark.asyncio
async def test_a_function_agent_calls_a_route_tool_and_reads_its_result(tools):
    llm, seen = scripted(call("search_bm25", "c1", query="E4012", k=2), cite_last_tool_result)
    response = await FunctionAgent(tools=tools, llm=llm, streaming=False).run(user_msg="What does E4012 mean?")
    [result] = response.tool_calls
    assert isinstance(result, ToolCallResult) and result.tool_name == "search_bm25"
    assert result.tool_kwargs == {"query": "E4012", "k": 2}
    assert [n.node.metadata["document_id"] for n in result.tool_output.raw_output][:1] == ["e1"]
    tool_turn = [m for m in seen[1] if m.role == MessageRole.TOOL]
    assert tool_turn and tool_turn[-1].content == result.tool_output.content  # reached the next turn
    assert str(response).endswith("[e1#0]")


@pytest.mark.asyncio
async def test_two_queries_two_route_tools(tools):
    llm, _ = scripted(call("search_bm25", "c1", query="E5003"), cite_last_tool_result,
                      call("search_dense", "c2", query="why am I so forgetful after short nights"),
                      cite_last_tool_result)
    agent = FunctionAgent(tools=tools, llm=llm, streaming=False)
    first = await agent.run(user_msg="What is E5003?")
    second = await agent.run(user_msg="Why do short nights make me forgetful?")
    assert [[c.tool_name for c in r.tool_calls] for r in (first, second)] == [["search_bm25"], ["search_dense"]]
    assert str(first).endswith("[e2#0]") and str(second).endswith("[p1#0]")


@pytest.mark.asyncio
async def test_a_refused_call_comes_back_as_an_error_the_llm_can_fix(tools):
    def retry(messages: list[ChatMessage]) -> ChatMessage:
        assert "k must be at most 20, got 500" in messages[-1].content
        return call("search", "c2", query="Which office did the star of Kiss and Tell hold?")(messages)

    llm, _ = scripted(call("search", "c1", query="Kiss and Tell", k=500), retry, cite_last_tool_result)
    response = await FunctionAgent(tools=tools, llm=llm, streaming=False).run(user_msg="Kiss and Tell star's office?")
    assert [c.tool_output.is_error for c in response.tool_calls] == [True, False]
    assert response.tool_calls[1].tool_output.content.startswith("Route: ")


@pytest.mark.asyncio
async def test_a_react_agent_with_the_retriever_tool(routing_kb):
    tool = retriever_tool(routing_kb.hybrid_retriever(), name="search_kb", k=2)

    def act(messages: list[ChatMessage]) -> ChatMessage:
        return ChatMessage(role="assistant", content='Thought: I need to search.\nAction: search_kb\n'
                                                     'Action Input: {"input": "E1177 duplicate key"}')

    def answer(messages: list[ChatMessage]) -> ChatMessage:
        observation = messages[-1].content
        assert observation.startswith("Observation: ")
        passage = read_passages(observation)[0]
        return ChatMessage(role="assistant", content=f"Thought: I can answer.\nAnswer: {passage['source']}")

    llm, _ = scripted(act, answer)
    response = await ReActAgent(tools=[tool], llm=llm, streaming=False).run(user_msg="What is E1177?")
    assert str(response) == "e3#0"
    [result] = response.tool_calls
    assert result.tool_output.raw_input == {"input": "E1177 duplicate key"}
    assert result.tool_output.raw_output[0].node.metadata["document_id"] == "e3"


def test_a_query_engine_as_a_tool(routing_kb):
    from llama_index.core import get_response_synthesizer
    from llama_index.core.llms import MockLLM
    from llama_index.core.query_engine import RetrieverQueryEngine

    from llama_index.retrievers.rag_plugins import RagPluginsRetriever, query_engine_tool

    engine = RetrieverQueryEngine(retriever=RagPluginsRetriever(routing_kb.bm25_retriever(), similarity_top_k=1),
                                  response_synthesizer=get_response_synthesizer(llm=MockLLM()))
    tool = query_engine_tool(engine, "error_codes", "Explains error codes such as E4012.")
    assert tool.metadata.name == "error_codes" and tool.metadata.description.startswith("Explains error codes")
    output = tool.call(input="E4012")
    assert "E4012 means the disk quota" in output.content  # MockLLM echoes its prompt: the context reached it
    assert output.raw_output.source_nodes[0].node.metadata["document_id"] == "e1"
