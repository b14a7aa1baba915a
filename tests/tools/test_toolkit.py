import json

import pytest

from rag_plugins.errors import ToolCallError, UnknownFilterFieldError
from rag_plugins.rerank import CrossEncoderReranker
from rag_plugins.tools import SearchTool, Toolkit, read_passages

EVERY_TOOL = ["search", "search_bm25", "search_dense", "search_hybrid", "search_graph", "search_graph_hybrid",
              "multi_hop_search"]


@pytest.fixture(scope="module")
def toolkit(routing_kb):
    return Toolkit.from_knowledge_base(routing_kb)


def test_every_retriever_the_router_and_the_iterative_engine_are_tools(toolkit):
    assert toolkit.names == EVERY_TOOL
    specs = {t["function"]["name"]: t["function"] for t in toolkit.openai_tools()}
    routed = specs["search"]["parameters"]
    assert routed["required"] == ["query"] and routed["additionalProperties"] is False
    assert routed["properties"]["route"]["enum"] == ["auto", "bm25", "dense", "hybrid", "graph", "graph+hybrid"]
    assert set(routed["properties"]) == {"query", "k", "route", "filters"}
    assert "route" not in specs["search_bm25"]["parameters"]["properties"]
    assert "Keyword search (BM25)" in specs["search_bm25"]["description"]
    assert set(specs["multi_hop_search"]["parameters"]["properties"]) == {"query", "k"}
    json.dumps(toolkit.openai_tools())  # plain JSON, ready for any client


def test_the_router_picks_the_route_and_says_why(toolkit):
    reply = toolkit.dispatch({"id": "call_1", "type": "function",
                              "function": {"name": "search", "arguments": json.dumps({"query": "what does E4012 mean"})}})
    assert set(reply) == {"role", "tool_call_id", "content"}  # exactly Chat Completions' tool message
    assert reply["role"] == "tool" and reply["tool_call_id"] == "call_1" and not reply["content"].startswith("Error")
    assert reply["content"].startswith('Route: bm25 (identifier "E4012" → bm25)')
    assert read_passages(reply["content"])[0]["source"] == "e1#0"

    forced = toolkit.call("search", {"query": "what does E4012 mean", "route": "dense", "k": 2})
    assert forced.data["route"]["router"] == "caller" and forced.content.startswith("Route: dense (route chosen by")
    assert [h.scores.keys() for h in forced.hits] == [{"dense"}, {"dense"}] and len(forced.hits) == 2


def test_results_carry_scores_timings_and_passages(toolkit):
    result = toolkit.call("search_hybrid", {"query": "why am I so forgetful after short nights", "k": 3})
    assert result.hits[0].document_id == "p1" and len(result.hits) == 3
    first = result.data["passages"][0]
    assert first["source"] == "p1#0" and set(first["scores"]) == {"bm25", "dense", "hybrid"}
    assert {"retrieval", "total"} <= set(result.data["timings"])
    assert result.data["passages"][0]["title"] == "Sleep"
    provenance = result.data["provenance"]  # which memory the passages came from
    assert provenance["memory"] == "retrieval" and provenance["retriever"] == "hybrid"
    assert provenance["chunks"] == [h.chunk.id for h in result.hits] and set(provenance["sources"]) == {"bm25", "dense"}
    assert provenance["generations"] == result.data["generations"] and "provenance" not in result.hit_metadata()


def test_filters_reach_the_retriever(toolkit):
    result = toolkit.call("search_bm25", {"query": "fruit", "filters": {"title": "Pears"}})
    assert [h.document_id for h in result.hits] == ["x1"]


@pytest.mark.parametrize("call, message", [
    ({"name": "search_everything", "arguments": {"query": "x"}}, "unknown tool 'search_everything'; the tools are"),
    ({"name": "search", "arguments": {"query": "x", "k": 0}}, "search: k must be at least 1, got 0"),
    ({"name": "search", "arguments": {"query": "x", "k": 500}}, "search: k must be at most 20, got 500"),
    ({"name": "search", "arguments": {"query": "x", "top_k": 3}}, "unknown argument(s) ['top_k']"),
    ({"name": "search", "arguments": {"query": "x", "route": "web"}}, "route must be one of ['auto', 'bm25'"),
    ({"name": "search", "arguments": {"query": "   "}}, "search: query is empty"),
    ({"name": "search", "arguments": {}}, "missing required argument(s) ['query']"),
    ({"name": "search", "arguments": "{query: x"}, "arguments are not valid JSON"),
    ({"name": "search_bm25", "arguments": {"query": "x", "filters": {"colour": "red"}}}, "colour"),
    ({"arguments": {"query": "x"}}, "the tool call names no tool"),
])
def test_bad_calls_are_refused_with_what_to_do(toolkit, call, message):
    reply = toolkit.dispatch(call)
    assert reply["is_error"] and reply["content"].startswith("Error: ") and message in reply["content"]
    if "name" not in call:
        return
    with pytest.raises((ToolCallError, UnknownFilterFieldError)):
        toolkit.call(call["name"], call["arguments"])


def test_anthropic_specs_and_tool_result_blocks(toolkit):
    specs = {t["name"]: t for t in toolkit.anthropic_tools()}
    assert list(specs) == EVERY_TOOL and set(specs["search"]) == {"name", "description", "input_schema"}
    assert specs["search"]["input_schema"] == toolkit["search"].spec.parameters
    json.dumps(toolkit.anthropic_tools())
    query = {"query": "does working out help with high blood pressure"}
    block = toolkit.dispatch({"type": "tool_use", "id": "toolu_1", "name": "search_dense", "input": query})
    assert set(block) == {"type", "tool_use_id", "content", "is_error"}
    assert block["type"] == "tool_result" and block["tool_use_id"] == "toolu_1" and block["is_error"] is False
    assert read_passages(block["content"])[0]["source"] == "p2#0"
    refused = toolkit.dispatch({"type": "tool_use", "id": "toolu_2", "name": "search_dense", "input": {"k": 2}})
    assert refused["type"] == "tool_result" and refused["tool_use_id"] == "toolu_2" and refused["is_error"]
    assert "missing required argument(s) ['query']" in refused["content"]


@pytest.mark.parametrize("call, form", [
    ({"id": "c1", "type": "function", "function": {"arguments": "{}"}}, "openai"),
    ({"id": "c1", "type": "function", "function": {"name": "", "arguments": "{}"}}, "openai"),
    ({"type": "tool_use", "id": "c1", "input": {"query": "x"}}, "anthropic"),
    ({"id": "c1", "arguments": {"query": "x"}}, "plain"),
    ({"id": "c1", "name": None, "args": {"query": "x"}}, "plain"),
])
def test_a_call_naming_no_tool_is_refused_in_its_own_form(toolkit, call, form):
    import asyncio

    for reply in (toolkit.dispatch(call), asyncio.run(toolkit.adispatch(call))):
        assert reply.get("is_error", form == "openai") and "the tool call names no tool" in reply["content"]
        assert reply["content"].startswith("Error: ")
        assert reply.get("role") == ("tool" if form == "openai" else None)
        assert reply.get("type") == ("tool_result" if form == "anthropic" else None)
        assert reply["tool_use_id" if form == "anthropic" else "tool_call_id"] == "c1"


@pytest.mark.parametrize("call", [None, "search", ["search", {"query": "x"}], 3])
def test_something_that_is_not_a_tool_call_gets_a_plain_refusal(toolkit, call):
    reply = toolkit.dispatch(call)
    assert reply == {"tool_call_id": None, "name": None, "is_error": True,
                     "content": reply["content"]} and "a tool call must be a dict" in reply["content"]


def test_anthropic_and_plain_calls_and_async(toolkit):
    import asyncio

    anthropic = toolkit.dispatch({"type": "tool_use", "id": "t1", "name": "search_dense",
                                  "input": {"query": "does working out help with high blood pressure"}})
    plain = toolkit.dispatch({"name": "search_dense", "args": {"query": "does working out help with high blood pressure"},
                              "id": "t2"})
    assert anthropic["content"] == plain["content"] and read_passages(plain["content"])[0]["source"] == "p2#0"
    assert anthropic["type"] == "tool_result" and anthropic["tool_use_id"] == "t1" and "role" not in anthropic
    assert plain == {"tool_call_id": "t2", "name": "search_dense", "content": plain["content"], "is_error": False}
    again = asyncio.run(toolkit.adispatch({"name": "search_dense", "id": "t2",
                                           "arguments": {"query": "does working out help with high blood pressure"}}))
    assert again["content"] == plain["content"]
    refused = asyncio.run(toolkit.adispatch({"name": "search_dense", "arguments": {"query": "x", "k": "3"}}))
    assert refused["is_error"] and "k must be an integer" in refused["content"]


def test_multi_hop_search_researches_in_one_call(toolkit):
    result = toolkit.call("multi_hop_search", {"query": "Which office did the star of Kiss and Tell hold?"})
    assert len(result.data["queries"]) >= 1 and result.data["path"] == "retrieved"
    assert "Searches made: " in result.content
    assert {p["source"] for p in read_passages(result.content)} >= {"g1#0", "g2#0"}
    assert all(p["updated_at"] and p["version"] == 1 for p in result.data["passages"])


def test_passages_say_when_their_document_last_changed(tmp_path):
    from datetime import datetime, timezone

    from rag_plugins import Document, KnowledgeBase

    kb = KnowledgeBase.open(tmp_path / "kb", show_progress=False)
    kb.upsert([Document("keys", "Rotate keys every 30 days."), Document("pears", "Pears are sweet.")])
    kb.commit()
    before = datetime.now(timezone.utc).replace(microsecond=0)
    kb.upsert([Document("keys", "Rotate keys every 90 days.")])
    kb.commit()
    result = Toolkit.from_knowledge_base(kb).call("search_bm25", {"query": "how often rotate keys", "k": 1})
    [record] = result.data["passages"]
    assert record["version"] == 2
    changed = datetime.strptime(record["updated_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert before <= changed <= datetime.now(timezone.utc)
    assert read_passages(result.content)[0]["updated"] == record["updated_at"][:10]
    plain = SearchTool("search_bm25", kb.bm25_retriever(), "Keyword search.").run({"query": "keys"})
    assert "updated" not in read_passages(plain.content)[0] and "version" not in plain.data["passages"][0]


def test_reranked_and_abstaining_tools(abstention_kb, abstention_estimator, tiny_cross_encoder):
    reranker = CrossEncoderReranker(tiny_cross_encoder, device="cpu")
    tools = Toolkit.from_knowledge_base(abstention_kb, reranker=reranker, depth=10, estimator=abstention_estimator,
                                        abstain_below=0.0, iterative=False)
    assert tools.names == ["search", "search_bm25"]
    result = tools.call("search_bm25", {"query": "how tall is the Eiffel Tower", "k": 3})
    assert {"retrieval", "rerank", "confidence", "total"} <= set(result.data["timings"])
    assert all("rerank" in p["scores"] for p in result.data["passages"])
    assert result.content.startswith("Retrieval confidence: ") and result.data["confidence"]["confidence"] >= 0
    strict = Toolkit.from_knowledge_base(abstention_kb, estimator=abstention_estimator, abstain_below=1.01,
                                         iterative=False)
    refused = strict.call("search", {"query": "medieval falconry techniques"})
    assert refused.data["abstained"] and refused.hits == [] and "Insufficient evidence" in refused.content


def test_toolkit_configuration_errors(routing_kb):
    tool = SearchTool("search_bm25", routing_kb.bm25_retriever(), "BM25.")
    with pytest.raises(ValueError, match="unique"):
        Toolkit([tool, tool])
    with pytest.raises(ValueError, match="letters, digits"):
        SearchTool("search bm25!", routing_kb.bm25_retriever(), "BM25.")
    with pytest.raises(ValueError, match=r"max_k \(2\) must be at least k \(4\)"):
        SearchTool("s", routing_kb.bm25_retriever(), "BM25.", max_k=2)


def test_concurrent_tool_calls_overlap_off_the_event_loop(routing_kb):
    import asyncio
    import threading

    from rag_plugins.generation import ExtractiveBridgeGenerator
    from rag_plugins.iterative import IterRetGen
    from rag_plugins.tools import ResearchTool
    from tests.concurrency import Rendezvous, RendezvousRetriever

    meeting = Rendezvous(parties=3, rounds=1)
    base = RendezvousRetriever(routing_kb.hybrid_retriever(), meeting)
    tools = Toolkit([SearchTool("search_kb", base, "Search."),
                     ResearchTool(IterRetGen(base, ExtractiveBridgeGenerator(routing_kb), iterations=2))])

    async def three_at_once():
        return await asyncio.gather(tools.acall("search_kb", {"query": "E4012"}),
                                    tools.acall("multi_hop_search", {"query": "Which office did the star of Kiss "
                                                                              "and Tell hold?"}),
                                    tools.adispatch({"name": "search_kb", "arguments": {"query": "E1177"}}))

    search, research, dispatched = asyncio.run(three_at_once())
    assert search.hits[0].document_id == "e1" and read_passages(dispatched["content"])[0]["source"] == "e3#0"
    assert {"g1", "g2"} <= {h.document_id for h in research.hits}
    assert threading.get_ident() not in meeting.threads and len(meeting.threads) >= 3


def test_the_offline_generator_s_names_are_not_passed_off_as_an_answer(toolkit):
    result = toolkit.call("multi_hop_search", {"query": "Which office did the star of Kiss and Tell hold?"})
    assert "Names the searches bridged through (not an answer): " in result.content
    assert "Draft answer" not in result.content
