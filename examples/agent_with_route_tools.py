"""An agent that picks vector, BM25 or knowledge-graph retrieval per question, and can
research multi-hop questions, through rag-plugins tools.

    python examples/agent_with_route_tools.py [--kb DIR] [--limit 40] [--llm package.module:factory]

The toolkit gives the agent ``search`` (the router decides and says why), one
``search_<route>`` tool per route, and ``multi_hop_search``. The LangChain agent is
``langchain.agents.create_agent``. With ``--llm`` (a zero-argument factory returning a
tool-calling chat model, e.g. ``ChatOpenAI``) the model chooses the tools; without it a
scripted stand-in plays the model: it calls the tool listed for each question below and
answers from the passage it gets back. The same tools then serve a framework-free loop:
OpenAI- or Anthropic-style specs and one dispatcher that answers each tool call in its own form.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _kb import demo_kb, example_parser, kb_directory, load_model  # noqa: E402
from langchain.agents import create_agent  # noqa: E402
from langchain_core.language_models import BaseChatModel  # noqa: E402
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage  # noqa: E402
from langchain_core.outputs import ChatGeneration, ChatResult  # noqa: E402

from langchain_rag_plugins import as_langchain_tools  # noqa: E402
from rag_plugins.tools import Toolkit, read_passages  # noqa: E402

PLAN = {  # question -> (tool, arguments) for the scripted stand-in
    "when was NYSME incorporated": ("search_bm25", {"query": "NYSME incorporated"}),
    "which series has companion books about enslaved worlds and alien species":
        ("search_dense", {"query": "companion books about enslaved worlds and alien species"}),
    "What government position was held by the woman who portrayed Corliss Archer in the film Kiss and Tell?":
        ("multi_hop_search", {"query": "What government position was held by the woman who portrayed Corliss "
                                       "Archer in the film Kiss and Tell?"}),
}


class ScriptedAgentModel(BaseChatModel):
    """The stand-in for a tool-calling chat model: calls the planned tool, then answers by
    quoting the first passage of the tool's reply."""

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self

    def _generate(self, messages: list, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> ChatResult:
        if isinstance(messages[-1], ToolMessage):
            passages = read_passages(messages[-1].content)
            text = f"{passages[0]['text'].split('. ')[0]}. [{passages[0]['source']}]" if passages else "Not found."
            return ChatResult(generations=[ChatGeneration(message=AIMessage(text))])
        tool, arguments = PLAN[messages[-1].content]
        call = {"name": tool, "args": arguments, "id": f"call_{len(messages)}", "type": "tool_call"}
        return ChatResult(generations=[ChatGeneration(message=AIMessage("", tool_calls=[call]))])


def main() -> None:
    parser = example_parser(__doc__)
    parser.add_argument("--llm", help="package.module:factory returning a tool-calling LangChain chat model")
    args = parser.parse_args()
    with demo_kb(kb_directory(args, "agent"), args.limit) as kb:
        toolkit = Toolkit.from_knowledge_base(kb)
        print(f"tools: {', '.join(toolkit.names)}")
        model = load_model(args.llm) if args.llm else ScriptedAgentModel()
        agent = create_agent(model, as_langchain_tools(toolkit),
                             system_prompt="Answer from the knowledge base only; cite passages by source id.")
        for question in PLAN:
            state = agent.invoke({"messages": [HumanMessage(question)]}, {"recursion_limit": 12})
            print(f"\nQ: {question}")
            for message in state["messages"]:
                if isinstance(message, ToolMessage):
                    first_line = message.content.splitlines()[0]
                    sources = [p["source"] for p in read_passages(message.content)][:3]
                    print(f"  tool {message.name}: {first_line[:100]}")
                    print(f"    passages: {', '.join(sources)}")
            print(f"A: {state['messages'][-1].content}")

        # Any other framework: OpenAI-style specs, and one dispatcher for the model's tool calls.
        specs = toolkit.openai_tools()
        print(f"\nOpenAI-style specs for {len(specs)} tools; 'search' takes {sorted(specs[0]['function']['parameters']['properties'])}")
        reply = toolkit.dispatch({"id": "call_1", "type": "function", "function": {
            "name": "search", "arguments": json.dumps({"query": "Shadowshaper author", "k": 2})}})
        print(f"dispatch -> {reply['role']} message for {reply['tool_call_id']}: {reply['content'].splitlines()[0]}")
        # Anthropic: tool specs with input_schema, and a tool_result block for each tool_use block.
        block = toolkit.dispatch({"type": "tool_use", "id": "toolu_1", "name": "search_bm25",
                                  "input": {"query": "Shadowshaper author", "k": 2}})
        print(f"Anthropic specs for {len(toolkit.anthropic_tools())} tools; dispatch -> {block['type']} block "
              f"for {block['tool_use_id']}, is_error={block['is_error']}")


if __name__ == "__main__":
    main()
