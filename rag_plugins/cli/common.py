"""What the subcommands share: opening a knowledge base and indexing a BEIR corpus into it."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from rag_plugins._model_files import EMBEDDING_MODEL_ENV, configured_embedding_model
from rag_plugins._files import write_text_atomically
from rag_plugins.embeddings.onnx_backend import BACKENDS
from rag_plugins.embeddings.sentence_transformer import DEFAULT_EMBEDDING_MODEL
from rag_plugins.catalog import CATALOG, route_options
from rag_plugins._validation import check_k
from rag_plugins.errors import InvalidInputError, KnowledgeBaseLockedError, RagPluginsError
from rag_plugins.graph.retriever import MODES as GRAPH_MODES
from rag_plugins.iterative.merge import DEFAULT_KEEP
from rag_plugins.store.knowledge_base import KnowledgeBase
from rag_plugins.store.locks import WriterLock

RETRIEVERS = CATALOG.standalone
"""``--retriever`` choices: every catalog kind buildable from flags alone (``--rerank`` adds a reranker)."""
ITERATIVE_BASES = ("bm25", "dense", "hybrid", "graph+hybrid")  # the graph alone finds nothing without entities
ROUTERS = ("rules", "learned", "llm")


def index_needs(kind: str, base: str | None = None) -> dict[str, bool]:
    """Which indexes a new base for retriever ``kind`` gets: ``{"dense": ..., "graph": ...}``
    (what the catalog says it needs or would use), and whether a reused base without a
    graph is refused (``require_graph``: only when the graph is needed, not merely used)."""
    wanted = CATALOG.wants(kind, base)
    return {"dense": "vectors" in wanted, "graph": "graph" in wanted,
            "require_graph": "graph" in CATALOG.needs(kind, base)}


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--embedding-model", help="sentence-transformers id or local folder (default for new bases: "
                                             f"${EMBEDDING_MODEL_ENV} if set, else {DEFAULT_EMBEDDING_MODEL})")
    add_backend_arg(p)
    p.add_argument("--chunk-size", type=int, help="chunk size for a new base: model tokens (default 512), or words "
                                                  "without a model (default 200)")
    p.add_argument("--chunk-overlap", type=int, help="overlap between chunks for a new base")


def add_backend_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--embedding-backend", choices=BACKENDS,
                   help="what runs the embedding model: torch (default for new bases), onnx, or onnx-int8 (ONNX "
                        "Runtime on the CPU, exported once from the local model); an existing base keeps the "
                        "backend it was embedded with")


def add_index_dir_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index-dir", help="knowledge-base directory to reuse or build (default: a temporary one)")
    p.add_argument("--rebuild", action="store_true", help="rebuild --index-dir if it does not match")


def add_graph_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--graph-mode", choices=GRAPH_MODES, default="ppr",
                   help="graph traversal: personalized PageRank, k-hop BFS, or seed-to-seed paths")


def add_retriever_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--retriever", choices=RETRIEVERS, default="hybrid",
                   help="how to search: BM25, dense vectors, both fused (hybrid, default), the knowledge "
                        "graph, a router's choice (routed), or ITER-RETGEN rounds (iterative)")
    add_fusion_arg(p)


def add_fusion_arg(p: argparse.ArgumentParser) -> None:
    from rag_plugins.retrievers.fusion import FUSION_METHODS, HYBRID_FUSION, HYBRID_WEIGHTS

    p.add_argument("--fusion", choices=sorted(FUSION_METHODS), default=HYBRID_FUSION,
                   help=f"how hybrid search merges BM25 and dense rankings (default {HYBRID_FUSION}: standardised "
                        f"scores, BM25 weight {HYBRID_WEIGHTS['bm25']:g} to dense {HYBRID_WEIGHTS['dense']:g}, chosen "
                        "on training data; other methods weigh both equally)")


def add_router_args(p: argparse.ArgumentParser, when: str = "with --retriever routed: ") -> None:
    """``when`` prefixes the help of the flags that only matter for routed search."""
    p.add_argument("--router", choices=ROUTERS, default="rules", help=f"{when}who picks the route")
    p.add_argument("--router-path", help="a trained router folder (rag-plugins train-router); for --router learned")
    p.add_argument("--llm", metavar="MODULE:FACTORY",
                   help="for --router llm: a zero-argument callable returning a LangChain chat model, a "
                        "LlamaIndex LLM, or a plain prompt -> text callable")
    p.add_argument("--fuse-below", type=float, default=None,
                   help=f"{when}below this router confidence, fuse the top two routes (default: the router's "
                        "own, chosen on training data: 0.0 for rules, train-router's choice for learned)")


def parse_filter(text: str | None, flag: str = "--filter") -> Any:
    """A metadata filter given as JSON on the command line (None when not given)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RagPluginsError(f"{flag} is not valid JSON ({exc.msg} at character {exc.pos}): "
                              f"write it like {flag} '{{\"lang\": \"en\"}}'") from None


def add_iterative_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--iterations", type=int, default=2,
                   help="with --retriever iterative: retrieval rounds (ITER-RETGEN with the offline extractive generator)")
    p.add_argument("--base", choices=ITERATIVE_BASES, default="hybrid",
                   help="with --retriever iterative: the retriever each round uses")
    p.add_argument("--keep", type=int, default=DEFAULT_KEEP,
                   help="with --retriever iterative: each earlier round's best hits kept above the last round's "
                        f"(default {DEFAULT_KEEP})")


def make_router(args: argparse.Namespace) -> Any:
    """The router ``--router`` names."""
    from rag_plugins.routing import LearnedRouter, LLMRouter, RuleRouter

    if args.router == "learned":
        if not args.router_path:
            raise RagPluginsError("--router learned needs --router-path DIR (train one with rag-plugins train-router)")
        return LearnedRouter.load(args.router_path)
    if args.router == "llm":
        if not args.llm:
            raise RagPluginsError("--router llm needs --llm MODULE:FACTORY returning a chat model, an LLM or a callable")
        return LLMRouter(llm_predict(load_factory(args.llm)()))
    return RuleRouter()


def load_factory(spec: str) -> Any:
    import importlib

    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise RagPluginsError(f"--llm must look like package.module:factory, got {spec!r}")
    try:
        factory = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise RagPluginsError(f"cannot load {spec!r}: {exc}") from exc
    if not callable(factory):
        raise RagPluginsError(f"{spec!r} is not callable")
    return factory


def llm_predict(model: Any) -> Any:
    """A prompt -> answer callable from a LangChain chat model (``invoke``), a LlamaIndex LLM
    (``complete``) or a plain callable."""
    if hasattr(model, "invoke"):
        return lambda prompt: model.invoke(prompt)
    if hasattr(model, "complete"):
        return lambda prompt: model.complete(prompt).text
    if callable(model):
        return model
    raise RagPluginsError(f"--llm returned a {type(model).__name__}: expected a chat model, an LLM or a callable")


def open_kb(directory: Path, args: argparse.Namespace, dense: bool, graph: bool = False,
            require_graph: bool | None = None) -> KnowledgeBase:
    """Open (or create) the base; ``graph`` builds a knowledge graph into a new one, and a
    reused base without one is refused when ``require_graph`` (default: ``graph``)."""
    exists = (directory / "kb.sqlite").exists()
    if not dense:
        embedder = None
    elif exists:
        embedder = args.embedding_model  # None: the base reloads its recorded model
    else:
        embedder = args.embedding_model or configured_embedding_model(DEFAULT_EMBEDDING_MODEL)
    kb = KnowledgeBase.open(directory, embedder=embedder, embedding_backend=getattr(args, "embedding_backend", None),
                            chunk_size=None if exists else args.chunk_size,
                            chunk_overlap=None if exists else args.chunk_overlap,
                            graph=None if exists else (graph or None))
    if (graph if require_graph is None else require_graph) and kb.knowledge_graph is None:
        kb.close()
        raise RagPluginsError(f"{directory} has no knowledge graph; graph retrieval needs one: build a "
                              "new base with a graph (index --graph into another directory; eval: --rebuild)")
    return kb


def make_retriever(kb: KnowledgeBase, kind: str, fusion: str, graph_mode: str = "ppr",
                   args: argparse.Namespace | None = None) -> Any:
    """The catalog's ``kind`` with the flags' options: ``--fusion`` and ``--graph-mode`` shape
    every hybrid and graph part (a routed retriever's routes, an iterative one's base)."""
    if kind == "iterative":
        if kb.embedder is None:
            raise RagPluginsError(f"{kb.path} has no embedder; --retriever iterative ranks sentences with it: "
                                  "use a base built with an embedding model")
        return CATALOG.build("iterative", kb, base=args.base, base_options=route_options(args.base, fusion, graph_mode),
                             iterations=args.iterations, keep=args.keep)
    if kind == "routed":  # unsure decisions fuse their two routes by RRF
        return CATALOG.build("routed", kb, router=make_router(args), fusion=fusion, graph_mode=graph_mode,
                             fuse_below=args.fuse_below)
    return CATALOG.build(kind, kb, **route_options(kind, fusion, graph_mode))


def add_rerank_args(p: argparse.ArgumentParser, depth: int = 100, max_length: int = 512) -> None:
    p.add_argument("--rerank", metavar="MODEL_OR_PATH", help="rerank with this cross-encoder (id or local folder)")
    p.add_argument("--rerank-depth", type=int, default=depth,
                   help=f"candidates reranked per query (default {depth}; with --rerank-adaptive, the deepest tier)")
    p.add_argument("--rerank-max-length", type=int, default=max_length,
                   help=f"cross-encoder max tokens per pair (default {max_length})")
    p.add_argument("--rerank-blend", metavar="WEIGHTS",
                   help="blend the cross-encoder's score with the first stage's, e.g. rerank=0.5,bm25=0.25,dense=0.25 "
                        "(the blend chosen on SciFact train for a reranker fine-tuned there)")
    p.add_argument("--rerank-adaptive", metavar="CONFIDENCE_JSON",
                   help="rerank fewer candidates when the first stage is confident: a confidence file fitted on the "
                        "first stage alone (rag-plugins calibrate --retriever R --candidates DEPTH, without --rerank)")
    add_rerank_backend_arg(p)


def parse_blend(spec: str) -> dict[str, float]:
    """``"rerank=0.5,bm25=0.25,dense=0.25"`` as weights for :class:`~rag_plugins.rerank.ScoreBlend`.

    >>> parse_blend("rerank=0.5, bm25=0.25,dense=0.25")
    {'rerank': 0.5, 'bm25': 0.25, 'dense': 0.25}
    """
    weights: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        source, sep, value = part.partition("=")
        try:
            weights[source.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not source.strip():
            raise InvalidInputError(f"--rerank-blend wants SOURCE=WEIGHT pairs, e.g. rerank=0.5,bm25=0.25,dense=0.25; "
                                    f"got {part!r}")
    if "rerank" not in weights:
        raise InvalidInputError("--rerank-blend must weigh the cross-encoder's score: name rerank=W among the sources")
    return weights


def add_rerank_backend_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rerank-backend", choices=BACKENDS, default="torch",
                   help="what runs the cross-encoder: torch (default), onnx or onnx-int8 (ONNX Runtime on the CPU)")


def make_pipeline(kb: KnowledgeBase, args: argparse.Namespace) -> Any:
    """The retriever the flags describe: ``--retriever``/``--fusion``, then ``--rerank``."""
    retriever = make_retriever(kb, args.retriever, args.fusion, getattr(args, "graph_mode", "ppr"), args)
    return with_reranking(retriever, args)


def with_reranking(retriever: Any, args: argparse.Namespace) -> Any:
    """``retriever`` under the cross-encoder ``--rerank`` names (as the ``--rerank-*`` flags
    set it up), or ``retriever`` itself without ``--rerank``."""
    if not getattr(args, "rerank", None):
        for flag in ("rerank_blend", "rerank_adaptive"):
            if getattr(args, flag, None):
                raise InvalidInputError(f"--{flag.replace('_', '-')} shapes a cross-encoder's reranking; "
                                        "name the cross-encoder with --rerank MODEL_OR_PATH")
        return retriever
    from rag_plugins.rerank import CrossEncoderReranker, RerankedRetriever, ScoreBlend

    depth = check_k(args.rerank_depth, "--rerank-depth")
    blend = parse_blend(args.rerank_blend) if getattr(args, "rerank_blend", None) else None
    adaptive = adaptive_depth(args.rerank_adaptive, depth) if getattr(args, "rerank_adaptive", None) else None
    reranker = CrossEncoderReranker(args.rerank, max_length=getattr(args, "rerank_max_length", 512),
                                    backend=getattr(args, "rerank_backend", "torch"))
    reranker.warm_up()
    retriever = RerankedRetriever(retriever, reranker, depth=None if adaptive else depth, adaptive=adaptive)
    return RerankedRetriever(retriever, ScoreBlend(blend), depth=depth) if blend else retriever


def adaptive_depth(confidence_file: str, deepest: int) -> Any:
    """The default :class:`~rag_plugins.rerank.AdaptiveDepth` policy on the first-stage
    confidence in ``confidence_file``, no tier deeper than ``deepest``."""
    from rag_plugins.confidence import ConfidenceEstimator
    from rag_plugins.rerank import AdaptiveDepth
    from rag_plugins.rerank import adaptive as defaults

    estimator = ConfidenceEstimator.load(confidence_file)
    if estimator.metadata.get("rerank"):
        raise InvalidInputError(f"{confidence_file} was fitted on reranked hits; --rerank-adaptive reads the first "
                                "stage's confidence: fit it with rag-plugins calibrate without --rerank")
    return AdaptiveDepth(estimator, confident_depth=min(defaults.CONFIDENT_DEPTH, deepest),
                         depth=min(defaults.DEPTH, deepest), unsure_depth=min(defaults.UNSURE_DEPTH, deepest))


def innermost(retriever: Any) -> Any:
    """The retriever under every reranking layer of a pipeline."""
    from rag_plugins.rerank import RerankedRetriever

    while isinstance(retriever, RerankedRetriever):
        retriever = retriever.retriever
    return retriever


@dataclass
class IndexedCorpus:
    kb: KnowledgeBase
    directory: Path
    seconds: float
    reused: bool


@contextmanager
def dataset_kb(dataset: Any, args: argparse.Namespace, dense: bool, graph: bool = False,
               require_graph: bool | None = None) -> Iterator[IndexedCorpus]:
    """Open ``--index-dir`` (or a temporary base), bring it in line with the dataset's
    corpus (only changes are indexed), and close it afterwards."""
    temp = None
    if args.index_dir:
        directory = Path(args.index_dir)
        if args.rebuild and (directory / "kb.sqlite").exists():
            lock = WriterLock.acquire(directory)  # never delete a base another process is writing
            shutil.rmtree(directory)
            lock.release()
    else:
        temp = tempfile.mkdtemp(prefix="rag-plugins-")
        directory = Path(temp)
    try:
        try:
            kb = open_kb(directory, args, dense, graph, require_graph)
        except KnowledgeBaseLockedError:
            raise
        except RagPluginsError as exc:
            raise RagPluginsError(f"{exc}\nThe index in {directory} does not match this run; "
                                  "pass --rebuild to rebuild it, or choose another --index-dir") from exc
        with kb:
            if dense and kb.embedder is None:
                raise RagPluginsError(f"{directory} is a BM25-only index; this run needs dense vectors: "
                                      "pass --rebuild or another --index-dir")
            t0 = time.perf_counter()
            result = kb.upsert(dataset.corpus)
            corpus_ids = {d.id for d in dataset.corpus}
            stale = [i for i in kb.document_ids() if i not in corpus_ids]
            kb.delete(stale)
            commit = kb.commit()
            seconds = time.perf_counter() - t0
            reused = not result.added and not result.updated and not stale
            print(f"index: {'reused' if reused else 'built'} {directory} "
                  f"({len(result.added)} added, {len(result.updated)} updated, {len(stale)} removed, "
                  f"{commit.chunks_embedded} chunks embedded) in {seconds:.1f}s", file=sys.stderr)
            yield IndexedCorpus(kb, directory, seconds, reused)
    finally:
        if temp:
            shutil.rmtree(temp, ignore_errors=True)


def write_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` by write-then-rename (a crash never leaves half a file)."""
    write_text_atomically(path, text)
