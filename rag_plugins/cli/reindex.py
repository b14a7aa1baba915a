"""``rag-plugins reindex --kb DIR --model NEW``: re-embed a base beside its current
generation, report the drift, and switch (or roll back) atomically."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from rag_plugins.cli.common import add_fusion_arg, add_graph_args, make_retriever
from rag_plugins.embeddings.onnx_backend import BACKENDS
from rag_plugins.embeddings.sentence_transformer import SentenceTransformerEmbedder
from rag_plugins.errors import InvalidInputError, RagPluginsError, RegressionGateError
from rag_plugins.ops.drift import measure_drift, sample_queries
from rag_plugins.ops.gate import DRIFT, GOLDEN, RegressionGate, write_json
from rag_plugins.store.knowledge_base import KnowledgeBase

KINDS = ("bm25", "dense", "hybrid", "graph", "graph+hybrid")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reindex", help="re-embed a base with another model beside the current generation, report "
                                       "the drift, switch atomically (--switch, --gate) or roll back (--rollback)")
    p.add_argument("--kb", required=True, help="the knowledge-base directory")
    p.add_argument("--model", help="the new sentence-transformers model (id or local folder); without it, act on "
                                   "the generations already there (--switch, --rollback, --discard, or show them)")
    action = p.add_mutually_exclusive_group()
    action.add_argument("--switch", action="store_true",
                        help="make the new (pending) generation current once built, or now when it exists")
    action.add_argument("--gate", action="store_true",
                        help=f"switch only when the base's regression gate (KB/{GOLDEN}) passes on the new generation")
    action.add_argument("--rollback", action="store_true",
                        help="make the generation the last switch replaced current again (its own model)")
    action.add_argument("--discard", choices=("pending", "previous"), help="forget a standby generation")
    p.add_argument("--queries", help="queries to measure drift on, one per line or JSONL {query} (default: the "
                                     "base's logged query texts, else its golden queries)")
    p.add_argument("--sample", type=int, default=200, help="at most this many drift queries (default 200)")
    p.add_argument("--k", type=int, default=10, help="top k compared for drift and scored by the gate (default 10)")
    p.add_argument("--retriever", choices=KINDS, default="hybrid",
                   help="the search compared and gated (default hybrid; dense shows the model change alone)")
    add_fusion_arg(p)
    add_graph_args(p)
    p.add_argument("--embedding-model", help="load the base's current model from here (e.g. a local copy)")
    p.add_argument("--embedding-backend", choices=BACKENDS,
                   help="what runs the new --model: torch (default), onnx or onnx-int8; re-index with the same "
                        "--model and another backend to move the base to that backend")
    p.add_argument("--json", action="store_true", help="also print the outcome as one JSON object, last line")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    directory = Path(args.kb)
    if not (directory / "kb.sqlite").exists():
        raise RagPluginsError(f"{directory} is not a knowledge base; create it with: rag-plugins sync PATH --kb {directory}")
    if args.sample < 1 or args.k < 1:
        raise InvalidInputError("--sample and --k must be at least 1")
    if args.model is None and (args.queries or args.gate or args.embedding_backend):
        raise InvalidInputError("--queries, --gate and --embedding-backend go with --model (a new re-index); to "
                                "switch to a pending generation already built, pass --switch")
    with KnowledgeBase.open(directory, embedder=args.embedding_model) as kb:
        outcome: dict[str, Any] = {}
        code = _act(kb, args, outcome)
        outcome.update(current=kb.generation, model=_model(kb.settings),
                       standby={role: entry.to_dict() for role, entry in kb.standby().items()})
        _show_status(kb)
    if args.json:
        print(json.dumps(outcome, ensure_ascii=False))
    return code


def _act(kb: KnowledgeBase, args: argparse.Namespace, outcome: dict[str, Any]) -> int:
    if args.discard:
        gone = kb.discard(args.discard)
        print(f"discarded the {args.discard} generation {gone}" if gone else f"there was no {args.discard} generation")
        return 0
    if args.rollback:
        outcome["switched"] = kb.switch("previous")
        print(f"rolled back: generation {outcome['switched']} ({_model(kb.settings)}) is current")
        return 0
    if args.model is None:
        if args.switch:
            outcome["switched"] = kb.switch()
            print(f"switched: generation {outcome['switched']} ({_model(kb.settings)}) is current")
        return 0
    gate = RegressionGate.for_knowledge_base(
        kb, retriever=lambda base: make_retriever(base, args.retriever, args.fusion, args.graph_mode, args), k=args.k)
    if args.gate and gate is None:
        raise InvalidInputError(f"--gate needs golden queries at {kb.path / GOLDEN}; make them with rag-plugins golden, "
                                "or write one {\"query\", \"expected\"} per line")
    queries = _drift_queries(kb, args)  # a bad --queries is refused before anything is built
    if gate is not None:
        gate.record_baseline_if_missing(kb)
    was = kb.generation
    pending = kb.reindex(SentenceTransformerEmbedder(args.model, backend=args.embedding_backend or "torch"))
    print(f"re-embedded {kb.chunk_count} chunks with {pending.model_id}: pending generation {pending.generation}, "
          f"beside generation {was}, which keeps serving")
    candidate = kb.standby_snapshot()
    outcome["pending"] = pending.to_dict()
    outcome["drift"] = _drift(kb, candidate, queries, args)
    if args.gate:
        try:
            outcome["switched"] = kb.switch(gate=gate)
        except RegressionGateError as exc:
            print("\n".join(exc.verdict.lines()))
            outcome["gate"] = exc.verdict.to_dict()
            print(f"not switched: the gate failed; generation {was} stays current, generation {pending.generation} "
                  f"stays pending (rag-plugins reindex --kb {kb.path} --switch makes it current anyway)")
            return 1
        print("\n".join(gate.last.lines()))
        outcome["gate"] = gate.last.to_dict()
        print(f"switched: generation {outcome['switched']} ({pending.model_id}) is current")
        return 0
    if gate is not None:  # the base has a gate: show its verdict on the new generation
        with kb.reading(candidate):
            verdict = gate.evaluate(kb)
        print("\n".join(verdict.lines()))
        outcome["gate"] = verdict.to_dict()
    del candidate
    if args.switch:
        outcome["switched"] = kb.switch()
        print(f"switched: generation {outcome['switched']} ({pending.model_id}) is current")
    else:
        print(f"not switched; make it current with: rag-plugins reindex --kb {kb.path} --switch")
    return 0


def _drift_queries(kb: KnowledgeBase, args: argparse.Namespace) -> tuple[list[str], str] | None:
    try:
        return sample_queries(kb.path, queries_file=args.queries, golden=kb.path / GOLDEN, limit=args.sample)
    except InvalidInputError as exc:
        if args.queries:
            raise
        print(f"drift not measured: {exc}")
        return None


def _drift(kb: KnowledgeBase, candidate: Any, sample: tuple[list[str], str] | None,
           args: argparse.Namespace) -> dict[str, Any] | None:
    if sample is None:
        return None
    queries, source = sample
    retriever = make_retriever(kb, args.retriever, args.fusion, args.graph_mode, args)
    report = measure_drift(kb, candidate, queries, retriever, k=args.k)
    write_json(kb.path / DRIFT, {**report.to_dict(), "at": time.time(), "source": source})
    tau = "n/a" if report.rank_correlation is None else f"{report.rank_correlation:.3f}"
    print(f"drift on {len(report.queries)} queries from {source}, {args.retriever} top {args.k}: "
          f"overlap@{args.k} {report.overlap:.3f}, rank correlation (Kendall tau) {tau}, "
          f"top-1 changed for {report.top1_changed:.1%}")
    for q in report.most_changed(3):
        print(f"  most changed: {q.query!r}: overlap {q.overlap:.2f}")
    return report.to_dict()


def _model(settings: dict[str, Any]) -> str:
    return (settings.get("embedding") or {}).get("model_id") or "no embedding model"


def _show_status(kb: KnowledgeBase) -> None:
    print(f"{kb.path}: current generation {kb.generation} ({_model(kb.settings)})")
    for role, entry in kb.standby().items():
        print(f"  {role}: generation {entry.generation} ({entry.model_id or 'no embedding model'})")
