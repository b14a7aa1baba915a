"""A knowledge base's settings: chosen when it is created, checked on every later open.

The settings (chunking, analyzer, BM25 parameters, vector index, embedding model, graph
extractor) live in ``kb.sqlite`` with a checksum. This module makes them for a new base,
checks that what an ``open`` asks for agrees with them, and resolves the embedder and the
extractor a base was built with.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from rag_plugins.errors import EmbeddingModelMismatchError, IndexCorruptedError, InvalidInputError, \
    UnsupportedFormatVersionError
from rag_plugins.graph.extraction import Extractor
from rag_plugins.index.bm25 import BM25Params
from rag_plugins.index.faiss_vectors import VectorIndexConfig
from rag_plugins.protocols import Embedder
from rag_plugins.store.docstore import DocumentStore
from rag_plugins.store.integrity import settings_digest
from rag_plugins.store.migrations import upgrade_1_to_2
from rag_plugins.text.analysis import Analyzer


def requested_settings(chunk_size: int | None, chunk_overlap: int | None, analyzer: Analyzer | None,
                       bm25: BM25Params | None, vector_index: VectorIndexConfig | None,
                       index_context: bool | None, indexes: Mapping[str, Mapping[str, Any]] | None = None
                       ) -> dict[str, Any]:
    """What one ``open`` asks for, as settings entries (None: not asked)."""
    return {
        "chunk_size": chunk_size, "chunk_overlap": chunk_overlap,
        "analyzer": analyzer.config() if analyzer else None,
        "bm25": {"k1": bm25.k1, "b": bm25.b} if bm25 else None,
        "vector_index": vector_index.to_dict() if vector_index else None,
        "index_context": index_context,
        "indexes": checked_index_settings(indexes),
    }


def checked_index_settings(indexes: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]] | None:
    """``open``'s ``indexes=``: per registered index kind, its creation-time settings (JSON)."""
    if indexes is None:
        return None
    from rag_plugins.index import INDEX_KINDS

    if not isinstance(indexes, Mapping):
        raise InvalidInputError(f"indexes must map index kinds to their settings, got {type(indexes).__name__}")
    unknown = sorted(set(indexes) - set(INDEX_KINDS))
    if unknown:
        raise InvalidInputError(f"indexes names unregistered index kinds {unknown}; registered: {sorted(INDEX_KINDS)} "
                                "(register a kind with rag_plugins.index.register_index first)")
    out = {}
    for kind, options in indexes.items():
        if not isinstance(options, Mapping):
            raise InvalidInputError(f"the settings of index kind {kind!r} must be a mapping, got {options!r}")
        try:
            out[kind] = json.loads(json.dumps(dict(options), allow_nan=False, sort_keys=True))
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"the settings of index kind {kind!r} must be JSON without NaN ({exc})") from exc
    return out


# Tokens per chunk with an embedding model: the size that won pooled recall@5 (hybrid) over
# 224-512 on the tuning split of real HTML docs and code (benchmarks/structure_recall.py
# --tune). A chunk longer than the model's window (256 for all-MiniLM-L6-v2) is embedded by
# its head and indexed whole by BM25; whole sections and functions still won.
DEFAULT_CHUNK_TOKENS = 512


def embedding_entry(embedder: Embedder) -> dict[str, Any]:
    """The settings entry that records which model embedded a generation."""
    return {"model_id": embedder.model_id, "revision": getattr(embedder, "revision", None),
            "fingerprint": embedder.fingerprint, "dimension": int(embedder.dimension),
            "normalize": bool(embedder.normalize), "backend": backend_of(embedder)}


def backend_of(embedder_or_entry: Any) -> str:
    """What ran the model: an embedder's ``backend``, or a settings entry's (bases recorded
    before backends existed were all embedded by torch)."""
    if isinstance(embedder_or_entry, Mapping):
        return embedder_or_entry.get("backend") or "torch"
    return getattr(embedder_or_entry, "backend", None) or "torch"


def new_settings(embedder: Embedder | None, requested: dict[str, Any], extractor: Extractor | None) -> dict[str, Any]:
    """The settings of a new base: what was asked for, defaults for the rest."""
    embedding = None
    chunk_size = requested["chunk_size"]
    if embedder is not None:
        embedding = embedding_entry(embedder)
        if chunk_size is None:
            chunk_size = DEFAULT_CHUNK_TOKENS
    return {
        "chunk_size": chunk_size or 200,
        "chunk_overlap": requested["chunk_overlap"] or 0,
        "analyzer": requested["analyzer"] or Analyzer().config(),
        "bm25": requested["bm25"] or {"k1": BM25Params().k1, "b": BM25Params().b},
        "vector_index": requested["vector_index"] or VectorIndexConfig().to_dict(),
        "index_context": True if requested["index_context"] is None else requested["index_context"],
        "embedding": embedding,
        "graph": extractor.config() if extractor is not None else None,
        **({"indexes": requested["indexes"]} if requested.get("indexes") else {}),
    }


def check_requested(settings: dict[str, Any], requested: dict[str, Any], path: Path) -> None:
    """Refuse an ``open`` asking for settings other than the base's."""
    for key, value in requested.items():
        if value is None:
            continue
        stored = settings.get(key)
        if key == "indexes":
            stored = stored or {}
        if key == "vector_index":
            stored = {**stored, "use_gpu": None}
            value = {**value, "use_gpu": None}
        if stored != value:
            raise InvalidInputError(
                f"{path} was created with {key}={stored!r}, not {value!r}; settings are fixed "
                "when a knowledge base is created. Omit the argument, or index into a new directory"
            )


def checked_settings(store: DocumentStore, path: Path) -> dict[str, Any]:
    """The settings recorded in ``kb.sqlite``, verified against their checksum."""
    settings = store.get_meta("settings")
    if not isinstance(settings, dict) or store.get_meta("settings_sha256") != settings_digest(settings):
        raise IndexCorruptedError(
            f"the settings in {path / 'kb.sqlite'} do not match their checksum; the file is damaged. "
            "Restore the knowledge base from a backup or rebuild it"
        )
    return settings


def upgrade(store: DocumentStore, path: Path, read_only: bool) -> None:
    """Bring a base written by an older release to the current format, in place."""
    if read_only:
        raise UnsupportedFormatVersionError(
            f"{path} was written by an older rag-plugins (format {store.get_meta('format_version')}); "
            "open it once for writing (KnowledgeBase.open(path), or any rag-plugins index run) to "
            "upgrade it in place, then open it read-only"
        )
    settings = store.get_meta("settings")
    upgrade_1_to_2(store, store.get_meta("generation", 0))
    store.set_meta("settings_sha256", settings_digest(settings))


def given_embedder(embedder: Embedder | str | None, backend: str | None,
                   new_base: bool) -> Embedder | str | None:
    """``open``'s ``embedder=`` and ``embedding_backend=`` as an embedder (``None``: the
    base's recorded one, or none for a new BM25-only base). A model named by id for an
    existing base stays a string until the base's recorded backend is known."""
    from rag_plugins.embeddings.sentence_transformer import SentenceTransformerEmbedder

    if isinstance(embedder, str):
        if backend is None and not new_base:
            return embedder
        return SentenceTransformerEmbedder(embedder, backend=backend or "torch")
    if backend is not None:
        if embedder is None and new_base:
            raise InvalidInputError(
                "embedding_backend applies to an embedding model, and a new base without embedder= is "
                "BM25-only: pass embedder= (a model id or folder) as well"
            )
        if embedder is not None and backend_of(embedder) != backend:
            raise InvalidInputError(
                f"embedding_backend={backend!r} but the embedder given runs on {backend_of(embedder)!r}; "
                "pass the backend to the embedder itself (SentenceTransformerEmbedder(..., backend=...))"
            )
    return embedder


def resolve_embedder(settings: dict[str, Any], embedder: Embedder | str | None, path: Path,
                     backend: str | None = None) -> Embedder | None:
    """The embedder an existing base searches with: the one given (checked once the base is
    open), else its recorded model (or the folder ``$RAG_PLUGINS_EMBEDDING_MODEL`` names) on
    ``backend``, by default the recorded one."""
    recorded = settings.get("embedding")
    if recorded is None:
        if embedder is not None:
            raise EmbeddingModelMismatchError(
                f"{path} was built without dense embeddings (BM25 only); it cannot be opened "
                "with an embedder. Index into a new directory to add dense retrieval"
            )
        return None
    from rag_plugins._model_files import configured_embedding_model
    from rag_plugins.embeddings.sentence_transformer import SentenceTransformerEmbedder

    if embedder is None:
        return SentenceTransformerEmbedder(configured_embedding_model(recorded["model_id"]),
                                           revision=recorded.get("revision"), normalize=recorded["normalize"],
                                           backend=backend or backend_of(recorded))
    if isinstance(embedder, str):  # a model named by id runs on the backend the base records
        return SentenceTransformerEmbedder(embedder, backend=backend or backend_of(recorded))
    return embedder


def load_recorded_embedder(settings: dict[str, Any], path: Path) -> Embedder:
    """The model ``settings`` record, loaded and checked: from ``$RAG_PLUGINS_EMBEDDING_MODEL``
    when that folder holds this very model, else from the recorded id (a generation built
    with another model than the configured one: a re-index, or what a switch left)."""
    from rag_plugins.embeddings.sentence_transformer import SentenceTransformerEmbedder

    recorded = settings["embedding"]
    embedder = resolve_embedder(settings, None, path)
    if embedder.fingerprint != recorded["fingerprint"] and embedder.model_id != recorded["model_id"]:
        embedder = SentenceTransformerEmbedder(recorded["model_id"], revision=recorded.get("revision"),
                                               normalize=recorded["normalize"], backend=backend_of(recorded))
    check_same_model(recorded, embedder, path, embedder.fingerprint)
    return embedder


def check_same_model(recorded: dict[str, Any], embedder: Embedder, path: Path, fingerprint: str) -> None:
    if recorded["fingerprint"] != fingerprint or recorded["dimension"] != embedder.dimension:
        was, given = backend_of(recorded), backend_of(embedder)
        if was != given:
            raise EmbeddingModelMismatchError(
                f"{path} was embedded by {recorded['model_id']!r} on the {was} backend, and the embedder "
                f"given runs it on {given}; their vectors differ slightly, so they are not mixed. Search "
                f"with the base's own backend (command line: --embedding-backend {was}, or leave it out; "
                f"Python: KnowledgeBase.open without embedding_backend), or move the base: rag-plugins "
                f"reindex --kb {path} --model {embedder.model_id} --embedding-backend {given}, then switch"
            )
        raise EmbeddingModelMismatchError(
            f"{path} was embedded with {recorded['model_id']!r} (fingerprint "
            f"{recorded['fingerprint'][:19]}, dimension {recorded['dimension']}), but the embedder "
            f"given is {embedder.model_id!r} (fingerprint {fingerprint[:19]}, dimension "
            f"{embedder.dimension}). Mixing models gives meaningless scores: reuse the base's own model "
            "(command line: leave out --embedding-model; Python: KnowledgeBase.open without an embedder). "
            f"To move the base to the new model, re-embed it beside the current one and switch: rag-plugins "
            f"reindex --kb {path} --model {embedder.model_id} (Python: kb.reindex(embedder), then kb.switch())"
        )


def check_embedder(settings: dict[str, Any], embedder: Embedder, store: DocumentStore, path: Path,
                   read_only: bool) -> None:
    """The embedder must be the model that built the index. A base recorded before
    fingerprints covered every weight is checked by the sampled fingerprint, and the full
    one is recorded by its first writer and checked from then on."""
    recorded = settings["embedding"]
    full = embedder.fingerprint
    legacy = getattr(embedder, "legacy_fingerprint", None)
    if recorded["fingerprint"] == full or legacy is None or recorded["fingerprint"].startswith("sha256:"):
        check_same_model(recorded, embedder, path, full)
        return
    check_same_model(recorded, embedder, path, legacy)
    content = store.get_meta("embedding_content_fingerprint")
    if content is None and not read_only:
        store.set_meta("embedding_content_fingerprint", full)
    elif content is not None and content != full:
        check_same_model({**recorded, "fingerprint": content}, embedder, path, full)


def as_extractor(graph: bool | Extractor | None) -> Extractor | None:
    """``open``'s ``graph=`` argument as an extractor (None: no graph)."""
    if graph is None or graph is False:
        return None
    if graph is True:
        from rag_plugins.graph.heuristic import HeuristicExtractor

        return HeuristicExtractor()
    if not isinstance(graph, Extractor):
        raise InvalidInputError(
            f"graph must be True, False or an Extractor (with name, config() and extract(chunks)); "
            f"got {type(graph).__name__}"
        )
    return graph


def resolve_extractor(recorded: dict[str, Any] | None, given: Extractor | None, requested: Any,
                      path: Path) -> Extractor | None:
    """The extractor that keeps an existing base's graph: the recorded default one, or the
    one given when it is the one that built the graph."""
    if recorded is None:
        if given is not None:
            raise InvalidInputError(
                f"{path} was created without a knowledge graph; index into a new directory with graph=..."
            )
        return None
    if requested is False:
        raise InvalidInputError(f"{path} has a knowledge graph; omit graph= or pass its extractor")
    if given is None or requested is True:
        if recorded.get("name") == "heuristic":
            from rag_plugins.graph.heuristic import HeuristicExtractor

            return HeuristicExtractor(**{k: v for k, v in recorded.items() if k != "name"})
        return None  # searchable; changing documents needs the extractor (see CommitServices.extract)
    if given.config() != recorded:
        raise InvalidInputError(
            f"{path} built its graph with extractor {recorded!r}, not {given.config()!r}; a graph "
            "mixing extractors is inconsistent. Pass the same extractor, or index into a new directory"
        )
    return given
