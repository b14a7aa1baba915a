"""LlamaIndex retriever over a rag-plugins retriever."""

from __future__ import annotations

from typing import Any, Dict, Sequence

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode
from llama_index.retrievers.rag_plugins.events import emit_route_decision

from rag_plugins.filter_policy import FilterPolicy
from rag_plugins.tracing import atraced_search, traced_search
from rag_plugins.types import Hit

dispatcher = get_dispatcher(__name__)

# Kept in metadata for the caller, but out of what the LLM and the embedder read.
_SCORE_KEYS = ["score", "scores", "ranks", "provenance", "evidence", "chunk_id", "position", "char_start", "char_end",
               "document_version", "document_changed_at", "document_source_mtime"]


def hit_to_node(hit: Hit, extra: dict[str, Any] | None = None) -> NodeWithScore:
    """A node whose score is the hit's score and whose metadata keeps every source's score
    and rank (out of what the LLM and the embedder read)."""
    chunk = hit.chunk
    metadata = {**hit.flat_metadata(), **(extra or {})}
    node = TextNode(
        id_=chunk.id,
        text=chunk.text,
        metadata=metadata,
        excluded_llm_metadata_keys=_SCORE_KEYS + ["heading_path", *(extra or {})],
        excluded_embed_metadata_keys=_SCORE_KEYS + ["heading_path", *(extra or {})],
    )
    node.set_content(chunk.text)
    return NodeWithScore(node=node, score=hit.score)


def nodes_to_hits(nodes: Sequence[NodeWithScore]) -> list[Hit]:
    """Our own nodes come back as the hits they were; others become hits ranked in the
    order given (source ``"input"``)."""
    hits = []
    for i, n in enumerate(nodes):
        metadata = dict(n.node.metadata)
        if "document_id" not in metadata and n.node.ref_doc_id:
            metadata["document_id"] = n.node.ref_doc_id
        hits.append(Hit.from_flat(n.node.node_id, n.node.get_content(metadata_mode=MetadataMode.NONE), metadata,
                                  score=n.score if n.score is not None else 0.0, rank=i + 1))
    return hits


def insufficient_evidence_node(message: str | None, metadata: dict[str, Any], score: float | None) -> NodeWithScore:
    """The explicit notice returned instead of context when a pipeline abstains."""
    notice = TextNode(id_="rag-plugins:insufficient-evidence", text=message or "Insufficient evidence.",
                      metadata={"abstained": True, **metadata},
                      excluded_llm_metadata_keys=["abstained", *metadata],
                      excluded_embed_metadata_keys=["abstained", *metadata])
    return NodeWithScore(node=notice, score=score)


def search_to_nodes(search: Any) -> list[NodeWithScore]:
    """A :class:`~rag_plugins.tracing.TracedSearch` as nodes: one explicit
    insufficient-evidence node when it abstained, else the hits with the search's timings
    (and ``confidence``, ``status``, ``abstained``) in metadata."""
    if search.abstained:
        confidence = dict(search.confidence or {})
        return [insufficient_evidence_node(search.message, {"confidence": confidence.get("confidence"),
                                                            "status": confidence.get("status"),
                                                            "timings": dict(search.timings)},
                                           confidence.get("confidence"))]
    extra = search.hit_metadata()
    return [hit_to_node(h, extra) for h in search.hits]


class SearchTraceEvent(BaseEvent):
    """Sent to the instrumentation dispatcher for every search and rerank through a
    rag-plugins component: the whole record (route decision, each hit's per-source and
    rerank scores, confidence, timings in seconds)."""

    query: str
    record: Dict[str, Any]

    @classmethod
    def class_name(cls) -> str:
        return "SearchTraceEvent"


def emit_search(search: Any) -> None:
    dispatcher.event(SearchTraceEvent(query=search.query, record=search.to_dict()))


class RagPluginsRetriever(BaseRetriever):
    """Any rag-plugins retriever (BM25, dense, hybrid, ...) as a LlamaIndex retriever.

    Use it alone or in a ``RetrieverQueryEngine``. ``aretrieve`` runs the whole search in
    a worker thread, so the event loop keeps serving. Each search sends a
    ``SearchTraceEvent`` (route, scores, confidence, timings) to the instrumentation
    dispatcher, and each node's metadata keeps its scores and the search's ``timings``
    (out of what the LLM reads). Given an ``AbstainingRetriever``,
    nodes carry ``confidence``/``status``, and weak evidence yields one explicit
    insufficient-evidence node (``metadata["abstained"] is True``) instead of context.
    Given a ``RoutedRetriever``, each node's ``metadata["evidence"]["route"]`` holds the
    route decision, and a ``RouteDecisionEvent`` goes to the instrumentation dispatcher.
    ``pinned_filters`` (e.g. ``{"tenant": "A"}``) apply to every search; ``filters`` can
    only narrow them.

    Example:
        .. code-block:: python

            from rag_plugins import KnowledgeBase
            from llama_index.retrievers.rag_plugins import RagPluginsRetriever

            kb = KnowledgeBase.open("kb")
            retriever = RagPluginsRetriever(kb.hybrid_retriever(), similarity_top_k=4)
            nodes = retriever.retrieve("What does BM25 stand for?")
            nodes[0].node.metadata["scores"]  # {'bm25': 7.1, 'dense': 0.62, 'hybrid': 0.032}
    """

    def __init__(
        self,
        retriever: Any,
        similarity_top_k: int = 4,
        filters: dict[str, Any] | None = None,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
        pinned_filters: dict[str, Any] | None = None,
    ) -> None:
        self._retriever = retriever
        self.similarity_top_k = similarity_top_k
        self.filters = filters
        self._policy = FilterPolicy(pinned_filters, allow_operators=True)
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    @property
    def pinned_filters(self) -> Any:
        return self._policy.pinned

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return self._nodes(traced_search(self._retriever, query_bundle.query_str, self.similarity_top_k,
                                         self._policy.apply(self.filters)))

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return self._nodes(await atraced_search(self._retriever, query_bundle.query_str, self.similarity_top_k,
                                                self._policy.apply(self.filters)))

    def _nodes(self, search: Any) -> list[NodeWithScore]:
        emit_search(search)
        if search.route is not None:
            emit_route_decision(search)
        return search_to_nodes(search)
