import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_example(script, tmp_path, minilm_path, *args, **env):
    """Run ``examples/<script> --kb tmp/kb [args]`` with the offline MiniLM; its stdout."""
    environ = {**os.environ, "RAG_PLUGINS_EMBEDDING_MODEL": minilm_path, "HF_HUB_OFFLINE": "1", **env}
    out = subprocess.run([sys.executable, f"examples/{script}", "--kb", str(tmp_path / "kb"), *args], cwd=REPO,
                         env=environ, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_demo_runs_and_shows_per_retriever_scores(tmp_path, minilm_path):
    out = run_example("demo.py", tmp_path, minilm_path, "--limit", "40")
    assert "40 added" in out and "fused" in out
    assert "bm25: score" in out and "dense: score" in out
    assert "seeds: Kiss and Tell (1945 film) (alias), Shirley Temple (alias)" in out
    assert "path: Kiss and Tell (1945 film) → Shirley Temple" in out   # the relational answer's evidence
    assert "from hybrid, graph" in out
    again = run_example("demo.py", tmp_path, minilm_path, "--limit", "40")
    assert "40 unchanged" in again and "0 embedded" in again


def test_rerank_and_abstain_example_runs(tmp_path, minilm_path, tiny_cross_encoder):
    out = run_example("rerank_and_abstain.py", tmp_path, minilm_path, "--limit", "40",
                      RAG_PLUGINS_RERANK_MODEL=tiny_cross_encoder)
    assert "rerank" in out and "mmr" in out and "hybrid" in out
    assert "Confidence (fitted on 40 labelled questions)" in out
    assert out.count("confidence 0.") + out.count("confidence 1.") == 2


def test_route_queries_example_routes_explains_and_trains(tmp_path, minilm_path):
    out = run_example("route_queries.py", tmp_path, minilm_path)
    assert 'why: quoted phrase "Hip Hip Pooh-Ray!" → bm25' in out
    assert "top: Hip Hip Pooh-Ray!" in out
    assert 'why: identifier "NYSME" → bm25' in out and "top: New York Society of Model Engineers" in out
    assert "+ relational cue \"related\" → graph+hybrid" in out
    assert "long descriptive query (21 words), no rare terms → dense" in out
    assert "labels (best route per question):" in out and "(learned, confidence" in out
    assert (tmp_path / "kb" / "router" / "weights.npy").exists()
    assert "recall_all@5 on the held-out questions: learned" in out


def test_iterative_retrieval_example_streams_the_trace_and_compares(tmp_path, minilm_path):
    out = run_example("iterative_retrieval.py", tmp_path, minilm_path)
    assert "search 1: 'What government position" in out
    assert "bridge: 'American Shirley Temple" in out and "search 2: " in out
    assert "merged top 5: Kiss and Tell (1945 film)" in out
    assert "recall_all@5 on the 30 demo questions: single-shot hybrid" in out


def test_lcel_chain_example_routes_answers_and_shows_callbacks(tmp_path, minilm_path):
    out = run_example("langchain_chain.py", tmp_path, minilm_path)
    assert 'route: bm25  why: identifier "NYSME" → bm25' in out
    assert "A: The New York Society of Model Engineers (NYSME) was originally incorporated in 1926" in out
    assert "route: graph+hybrid" in out and "Kiss and Tell (1945 film): hybrid " in out
    assert "timings: routing " in out and "abatch answered 2 questions concurrently" in out


def test_llama_index_query_engine_example_reranks_and_reports_events(tmp_path, minilm_path, tiny_cross_encoder):
    out = run_example("llama_index_query_engine.py", tmp_path, minilm_path, RAG_PLUGINS_RERANK_MODEL=tiny_cross_encoder)
    assert out.count("[hybrid] 10 hits") == 2 and out.count("[RagPluginsRerank] 3 hits") == 2
    assert "rerank " in out and "Q: 2014 S/S is the debut album" in out
    assert "'rerank':" in out.split("Q: The director")[1]


def test_agent_example_uses_route_tools_and_the_dispatcher(tmp_path, minilm_path):
    out = run_example("agent_with_route_tools.py", tmp_path, minilm_path)
    assert "tools: search, search_bm25, search_dense, search_hybrid, search_graph, search_graph_hybrid, " \
           "multi_hop_search" in out
    assert "tool search_bm25: " in out and "tool search_dense: " in out and "tool multi_hop_search: " in out
    assert "A: The New York Society of Model Engineers (NYSME) was originally incorporated in 1926" in out
    assert "A: The Hork-Bajir Chronicles is the second companion book" in out
    assert "dispatch -> tool message for call_1: Route: " in out
    assert "Anthropic specs for 7 tools; dispatch -> tool_result block for toolu_1, is_error=False" in out


def test_mcp_server_example_serves_and_calls_tools(tmp_path, minilm_path):
    out = run_example("mcp_server.py", tmp_path, minilm_path)
    assert "connected to rag-plugins" in out and "tool multi_hop_search: ['k', 'query']" in out
    assert 'search -> Route: bm25 (identifier "NYSME" → bm25)' in out
    assert "a refused call comes back as a tool error: True: Error: search: route must be one of" in out
    assert '"serve-mcp"' in out


def test_serve_while_writing_example_follows_the_writer_and_survives_kill_9(tmp_path, minilm_path):
    out = run_example("serve_while_writing.py", tmp_path, minilm_path)
    assert "second writer: KnowledgeBaseLockedError" in out and "is open for writing by pid" in out
    assert "reader: generation 4, 43 chunks, top hit 'New York Society of Model Engineers'" in out
    assert "reader followed 4 generations without reopening" in out
    assert "the base is whole" in out


def test_sync_example_indexes_real_formats_and_resyncs_only_the_change(tmp_path, minilm_path):
    out = run_example("sync_your_documents.py", tmp_path, minilm_path)
    assert "first sync: 6 added" in out and "0 failed" in out
    assert "runbook.html > Deploys > Rolling back [#rollback] version 1: 'Roll back with the rollback script" in out
    assert "handbook.pdf > Access [page 1]" in out
    assert "second sync: 0 added, 1 updated, 1 removed, 4 unchanged" in out and "1 chunk(s) embedded" in out
    assert "updated ['notes.md'], removed ['scratch.md']" in out
    assert "third sync (nothing changed): 0 file(s) hashed, 0 loaded, generation 2" in out


def test_monitor_example_logs_searches_and_flags_the_broken_retriever(tmp_path, minilm_path):
    out = run_example("monitor_retrieval.py", tmp_path, minilm_path)
    assert "healthy: 120 distinct queries" in out and "alerts 0" in out
    assert "ALERT: retrieval collapse on hybrid: over the last 20 distinct queries" in out
    flagged = int(out.split("flagged after ")[1].split()[0])
    assert flagged <= 20
    assert f"retrieval log retrieval_log.sqlite: {120 + flagged} searches" in out
    assert "via hybrid from generation (1,)" in out
    assert f'metric: rag_plugins_searches_total{{retriever="hybrid",status="none"}} {120 + flagged}.0' in out
    assert 'metric: rag_plugins_collapse_collapsed{filter="",retriever="hybrid"} 1.0' in out


def test_regression_gate_example_passes_unchanged_and_fails_a_lossy_reindex(tmp_path, minilm_path):
    out = run_example("regression_gate.py", tmp_path, minilm_path)
    assert "baseline: 30 golden queries" in out and "unchanged base: PASS" in out
    assert "after losing six paragraphs: FAIL: recall@10 fell from" in out
    assert 1 <= out.count("  worse: ") <= 6


def test_reindex_example_refuses_a_broken_model_and_switches_an_unchanged_one(tmp_path, minilm_path):
    out = run_example("reindex_model.py", tmp_path, minilm_path)
    new, same = out.split("\nsame model:")
    assert "new model: pending generation 2 beside generation 1" in new and "gate refused: recall@10 fell" in new
    assert "generation 1 keeps serving" in new
    assert "overlap@10 1.00, top-1 changed for 0%" in same and "gate passed" in same
    assert "rolled back: generation 1 is current" in same


def test_write_back_example_adds_the_supported_answer_only(tmp_path, minilm_path):
    out = run_example("write_back.py", tmp_path, minilm_path)
    assert "supported, from two passages: added as generated/" in out
    assert "an invented sentence: refused by the attribution check" in out
    assert "a changed figure: refused by the attribution check" in out
    assert "a copy of a passage: refused by the novelty check" in out
    assert "a normal search sees: refunds, shipping, warranty" in out
    assert "refusals in the retrieval log: attribution, attribution, novelty" in out and "removed: generated/" in out


def test_staleness_example_lists_the_unsynced_source_and_ages_the_hits(tmp_path, minilm_path):
    out = run_example("staleness_report.py", tmp_path, minilm_path)
    assert "1 of 4 sources not re-checked within a day:\n  archive/office.md" in out
    assert "80% of the 5 retrieved hits came from documents older than 180 days when retrieved" in out
    assert "by age: <30d 20%, 30-90d 0%, 90-180d 0%, 180-365d 20%, >365d 60%" in out


def test_otel_example_nests_the_retrieval_span_under_the_application(tmp_path, minilm_path):
    out = run_example("otel_spans.py", tmp_path, minilm_path)
    assert "span 'retrieval' (parent 'answer question')" in out
    assert "span 'rag_plugins.retrieval' (parent 'retrieval')" in out
    assert "gen_ai.operation.name = retrieval" in out and "gen_ai.retrieval.top_k = 2" in out
    assert "metrics: gen_ai.retrieval.duration, rag_plugins.searches" in out


def test_faster_encoders_example_compares_refuses_and_moves_a_base(tmp_path, minilm_path):
    out = run_example("faster_encoders.py", tmp_path, minilm_path, "--limit", "20",
                      XDG_CACHE_HOME=str(tmp_path / "cache"))
    assert "torch: 20 documents, recorded backend 'torch'" in out
    assert "onnx-int8: 20 documents, recorded backend 'onnx-int8'" in out
    assert "dense query p50: torch" in out and "top hit the same for" in out
    assert "refused: " in out and "on the onnx-int8 backend" in out
    assert "switched: the base now searches with onnx-int8" in out
    assert list((tmp_path / "cache" / "rag-plugins" / "onnx").glob("*/model.onnx"))
