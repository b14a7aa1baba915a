"""Real LangChain agent loops (``langchain.agents.create_agent``) whose chat model is
scripted to call rag-plugins tools: the tool result must reach the model's next turn."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from langchain.agents import create_agent
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import create_retriever_tool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

from langchain_rag_plugins import RagPluginsRetriever, as_langchain_tools
from rag_plugins.tools import Toolkit, read_passages


class ScriptedToolCallingModel(BaseChatModel):
    """A chat model that plays a script: each turn is a function of the messages so far,
    returning the next AIMessage (tool calls or the final answer). It records what it
    was shown and which tools were bound."""

    turns: list[Callable[[list[BaseMessage]], AIMessage]]
    seen: list[list[BaseMessage]] = Field(default_factory=list)
    bound: list[str] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted-tool-calling"

    def bind_tools(self, tools: Any, *, tool_choice: Any = None, **kwargs: Any) -> Any:
        schemas = [convert_to_openai_tool(t) for t in tools]
        self.bound = [s["function"]["name"] for s in schemas]
        return self.bind(tools=schemas, **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        self.seen.append(list(messages))
        turn = self.turns[len(self.seen) - 1]
        return ChatResult(generations=[ChatGeneration(message=turn(messages))])


def call(name: str, call_id: str, **args: Any) -> Callable[[list[BaseMessage]], AIMessage]:
    return lambda messages: AIMessage("", tool_calls=[{"name": name, "args": args, "id": call_id, "type": "tool_call"}])


def cite_last_tool_result(messages: list[BaseMessage]) -> AIMessage:
    """The final turn: answer from the passages the last tool returned, citing them."""
    tool_message = next(m for m in reversed(messages) if isinstance(m, ToolMessage))
    passages = read_passages(tool_message.content)
    return AIMessage(f"{passages[0]['text']} [{passages[0]['source']}]")


@pytest.fixture(scope="module")
def tools(routing_kb):
    return as_langchain_tools(Toolkit.from_knowledge_base(routing_kb, iterative=False))


def test_the_agent_calls_a_route_tool_and_reads_its_result(tools):
    model = ScriptedToolCallingModel(turns=[call("search_bm25", "c1", query="E4012", k=2), cite_last_tool_result])
    agent = create_agent(model, tools)
    state = agent.invoke({"messages": [HumanMessage("What does error E4012 mean?")]}, {"recursion_limit": 10})
    assert model.bound == ["search", "search_bm25", "search_dense", "search_hybrid", "search_graph",
                           "search_graph_hybrid"]
    tool_message = next(m for m in state["messages"] if isinstance(m, ToolMessage))
    assert tool_message.name == "search_bm25" and tool_message.tool_call_id == "c1"
    assert tool_message in model.seen[1]  # the tool result reached the model's next turn
    assert [d.metadata["document_id"] for d in tool_message.artifact][:1] == ["e1"]
    assert state["messages"][-1].content == ("Error E4012 means the disk quota of the workspace is exhausted; "
                                             "delete old snapshots. [e1#0]")


def test_two_queries_two_route_tools(tools):
    model = ScriptedToolCallingModel(turns=[
        call("search_bm25", "c1", query="E5003"), cite_last_tool_result,
        call("search_dense", "c2", query="why am I so forgetful after short nights"), cite_last_tool_result,
    ])
    agent = create_agent(model, tools)
    first = agent.invoke({"messages": [HumanMessage("What is E5003?")]}, {"recursion_limit": 10})
    second = agent.invoke({"messages": [HumanMessage("Why do short nights make me forgetful?")]},
                          {"recursion_limit": 10})
    used = [[m.name for m in s["messages"] if isinstance(m, ToolMessage)] for s in (first, second)]
    assert used == [["search_bm25"], ["search_dense"]]
    assert first["messages"][-1].content.endswith("[e2#0]") and second["messages"][-1].content.endswith("[p1#0]")
    dense = next(m for m in second["messages"] if isinstance(m, ToolMessage))
    assert dense.artifact[0].metadata["scores"].keys() == {"dense"}


@pytest.mark.asyncio
async def test_the_routed_tool_asynchronously_and_a_refused_call_the_model_can_fix(tools):
    def retry(messages: list[BaseMessage]) -> AIMessage:
        error = messages[-1]
        assert isinstance(error, ToolMessage) and error.status == "error"
        assert error.content == ("Error: invalid arguments; k: Input should be less than or equal to 20 (got 500). "
                                 "Fix them and call the tool again.")
        return call("search", "c2", query="Which office did the star of Kiss and Tell hold?")(messages)

    model = ScriptedToolCallingModel(turns=[call("search", "c1", query="Kiss and Tell", k=500), retry,
                                            cite_last_tool_result])
    state = await create_agent(model, tools).ainvoke(
        {"messages": [HumanMessage("Which office did the star of Kiss and Tell hold?")]}, {"recursion_limit": 10})
    replies = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert [r.status for r in replies] == ["error", "success"]
    assert replies[1].content.startswith("Route: ") and replies[1].artifact
    assert replies[1].artifact[0].metadata["route"]["router"] == "rules"


def test_create_retriever_tool_works_with_our_retriever(routing_kb):
    tool = create_retriever_tool(RagPluginsRetriever(retriever=routing_kb.bm25_retriever(), k=2), "search_kb",
                                 "Search the knowledge base.", response_format="content_and_artifact")
    reply = tool.invoke({"name": "search_kb", "args": {"query": "Error E1177 duplicate key"}, "id": "c1",
                         "type": "tool_call"})
    assert reply.content.startswith("Error E1177 signals") and len(reply.artifact) == 2
    assert reply.artifact[0].metadata["scores"]["bm25"] > 0 and "timings" in reply.artifact[0].metadata
    model = ScriptedToolCallingModel(turns=[call("search_kb", "c1", query="E1177"),
                                            lambda m: AIMessage(m[-1].content.split("\n\n")[0])])
    state = create_agent(model, [tool]).invoke({"messages": [HumanMessage("E1177?")]}, {"recursion_limit": 10})
    assert state["messages"][-1].content == "Error E1177 signals that the configuration file has a duplicate key."
