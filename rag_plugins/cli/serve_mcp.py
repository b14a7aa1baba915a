"""``rag-plugins serve-mcp KB_DIR``: a knowledge base's search tools over MCP (stdio)."""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from rag_plugins.cli.common import add_backend_arg, add_rerank_backend_arg, add_router_args, make_router
from rag_plugins.errors import EmptyIndexError, RagPluginsError
from rag_plugins.store.knowledge_base import KnowledgeBase


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve-mcp", help="serve a knowledge base's search tools to MCP agents over stdio")
    p.add_argument("kb", help="a knowledge-base directory (rag-plugins index, or eval --index-dir)")
    p.add_argument("--embedding-model", help="load the base's embedding model from here (e.g. a local copy)")
    add_backend_arg(p)
    add_router_args(p, when="for the routed 'search' tool: ")
    p.add_argument("--rerank", metavar="MODEL_OR_PATH", help="rerank every search with this cross-encoder")
    p.add_argument("--rerank-depth", type=int, default=50, help="candidates reranked per search (default 50)")
    add_rerank_backend_arg(p)
    p.add_argument("--confidence", metavar="FILE", help="a fitted confidence estimator (rag-plugins calibrate): "
                                                         "weak evidence answers 'insufficient evidence'")
    p.add_argument("--abstain-below", type=float, help="abstain below this confidence (default: the estimator's)")
    p.add_argument("--k", type=int, default=4, help="passages per search unless the model asks (default 4)")
    p.add_argument("--max-k", type=int, default=20, help="the most passages a model may ask for (default 20)")
    p.add_argument("--no-route-tools", action="store_true", help="offer only 'search' (routed), not search_<route>")
    p.add_argument("--no-multi-hop", action="store_true", help="do not offer multi_hop_search")
    p.add_argument("--pin-filter", metavar="JSON", type=_filter_json,
                   help='a metadata filter every search runs under, e.g. \'{"tenant": "A"}\'; '
                        "a model's filters can only narrow it")
    p.add_argument("--allow-filter-operators", action="store_true",
                   help="let the model's filters use operators ($ne, $gt, $or, ...); default: equality only")
    p.add_argument("--bm25-statistics", choices=("collection", "filtered"),
                   help="what filtered BM25 computes IDF over: the whole base, or only what the filter admits "
                        "(default: filtered with --pin-filter, so tenants' term statistics stay apart)")
    p.add_argument("--retrieval-log", nargs="?", const="", metavar="PATH",
                   help="log every search (time, query hash, retriever, route, hits, confidence, timings) to "
                        "PATH, default KB/retrieval_log.sqlite, and warn on retrieval collapse")
    p.add_argument("--log-queries", action="store_true",
                   help="keep each query's text in the retrieval log (default: a fingerprint only)")
    p.add_argument("--metrics-port", type=int, metavar="PORT",
                   help="serve Prometheus metrics (searches, latency per stage, confidence, collapse gauges) on "
                        "http://ADDRESS:PORT/metrics; 0 picks a free port (printed on stderr)")
    p.add_argument("--metrics-address", default="127.0.0.1", help="the metrics endpoint's address (default loopback)")
    p.add_argument("--otel", action="store_true",
                   help="record an OpenTelemetry span and metrics per search (GenAI retrieval conventions) through "
                        "the globally configured providers, e.g. under opentelemetry-instrument")
    p.add_argument("--name", default="rag-plugins", help="the server name clients show")
    p.add_argument("--log-level", default="WARNING", help="stderr log level; INFO logs every search as a record")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rag_plugins.mcp_server import serve_stdio
    from rag_plugins.tools import Toolkit

    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    directory = Path(args.kb)
    if not (directory / "kb.sqlite").exists():
        raise RagPluginsError(f"{directory} is not a knowledge base; create one with: "
                              f"rag-plugins index PATH --kb {directory}")
    statistics = args.bm25_statistics or ("filtered" if args.pin_filter is not None else "collection")
    with KnowledgeBase.open(directory, embedder=args.embedding_model, read_only=True,
                            embedding_backend=args.embedding_backend,
                            bm25_statistics=statistics) as kb:
        if args.pin_filter is not None:
            _check_pin(kb, args.pin_filter)
        reranker = estimator = None
        if args.rerank:
            from rag_plugins.rerank import CrossEncoderReranker

            reranker = CrossEncoderReranker(args.rerank, backend=args.rerank_backend)
            reranker.warm_up()
        if args.confidence:
            from rag_plugins.confidence import ConfidenceEstimator

            estimator = ConfidenceEstimator.load(args.confidence)
        observers, log = _observers(args, kb)
        toolkit = Toolkit.from_knowledge_base(
            kb, router=make_router(args), route_tools=not args.no_route_tools, reranker=reranker,
            depth=args.rerank_depth, estimator=estimator, abstain_below=args.abstain_below,
            iterative=False if args.no_multi_hop else "auto", k=args.k, max_k=args.max_k,
            pinned_filters=args.pin_filter, allow_filter_operators=args.allow_filter_operators,
            observers=observers)
        logging.getLogger("rag_plugins.mcp").info("serving %s: tools %s", directory, toolkit.names)
        stop_at_once = threading.current_thread() is threading.main_thread()
        stop = functools.partial(_stop_now, log)
        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)} if stop_at_once else {}
        try:
            asyncio.run(serve_stdio(toolkit, name=args.name))
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if log is not None:
                log.close()
    return 0


def _observers(args: argparse.Namespace, kb: KnowledgeBase) -> tuple[list[Any], Any]:
    """The retrieval log, collapse monitor, metrics endpoint and OpenTelemetry tracing the flags ask for."""
    if args.log_queries and args.retrieval_log is None:
        raise RagPluginsError("--log-queries keeps query text in the retrieval log; add --retrieval-log")
    tracing: list[Any] = []
    if getattr(args, "otel", False):
        from rag_plugins.ops.otel import OpenTelemetryTracing

        tracing.append(OpenTelemetryTracing.for_knowledge_base(kb))
    if args.retrieval_log is None and args.metrics_port is None:
        return tracing, None
    from rag_plugins.ops import CollapseMonitor, RetrievalLog

    monitor = CollapseMonitor.for_knowledge_base(kb)
    observers: list[Any] = [monitor, *tracing]
    log = None
    if args.retrieval_log is not None:
        log = RetrievalLog(args.retrieval_log or kb.path, store_queries=args.log_queries)
        logging.getLogger("rag_plugins.mcp").info("logging searches to %s", log.path)
        observers.append(log)
    if args.metrics_port is not None:
        from rag_plugins.ops.metrics import PrometheusMetrics

        metrics = PrometheusMetrics(collapse=monitor, knowledge_base=kb)
        try:
            server = metrics.serve(args.metrics_port, args.metrics_address)
        except OSError as exc:
            raise RagPluginsError(f"cannot serve metrics on {args.metrics_address}:{args.metrics_port}: {exc}; "
                                  "pick another --metrics-port") from exc
        print(f"rag-plugins: metrics at http://{args.metrics_address}:{server.server_port}/metrics",
              file=sys.stderr, flush=True)
        observers.append(metrics)
    return observers, log


def _stop_now(log: Any, signum: int, frame: object) -> None:
    """Ctrl-C or SIGTERM while serving: write the queued retrieval-log rows, then exit at
    once. Unwinding would wait on the stdio transport's stdin read (no signal wakes it) and
    log the server's cancellation; a read-only base needs no cleanup that a kill -9 would
    not also skip."""
    if log is not None:
        log.close(timeout=5.0)
    verb = "interrupted" if signum == signal.SIGINT else "terminated"
    sys.stdout.flush()
    sys.stderr.write(f"rag-plugins: {verb}; server stopped\n")
    sys.stderr.flush()
    os._exit(130 if signum == signal.SIGINT else 143)


def _check_pin(kb: KnowledgeBase, pin: Any) -> None:
    """Refuse to start with a pinned filter that names a field no chunk has (a typo
    would otherwise refuse every search), and log how many chunks it lets through."""
    from rag_plugins.filter_policy import FilterPolicy

    pinned = FilterPolicy(pin).pinned
    try:
        visible = int(kb.searchable_snapshot().metadata.mask(pinned).sum())
    except EmptyIndexError:
        return
    logging.getLogger("rag_plugins.mcp").info("pinned filter %s: %d chunks searchable", json.dumps(pinned), visible)


def _filter_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON ({exc}); write it like '{{\"tenant\": \"A\"}}'") from exc
