"""The roles components play, as Protocols: implementations need no base class.

Retrieval: :class:`Retriever` (and what it reads from a base, :class:`SearchableBase`,
:class:`IndexedGeneration`), :class:`Reranker`, :class:`RetrieverCatalog`, and what watches
searches, :class:`SearchObserver`. Storage:
:class:`Index` (one index kind; the seam for new backends) and :class:`IndexServices` (what the
store lends it). Models: :class:`Embedder`, :class:`TokenCounter`. Pipeline stages:
:class:`Extractor` (chunks to graph extractions), :class:`Router` (query features to a route
decision), :class:`Generator` (a request to a generation). The data these speak in lives in
the vocabulary modules beside this one: :mod:`rag_plugins.types`,
:mod:`rag_plugins.extraction_types`, :mod:`rag_plugins.routing_types`,
:mod:`rag_plugins.generation_types`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from rag_plugins.extraction_types import Extraction
from rag_plugins.generation_types import Generation, GenerationRequest
from rag_plugins.routing_types import QueryFeatures, RouteDecision
from rag_plugins.types import Chunk, Hit, IndexChanges

Filters = Mapping[str, Any]


@runtime_checkable
class Retriever(Protocol):
    """Anything that turns a query into ranked hits.

    To write one, subclass :class:`rag_plugins.retrievers.base.BaseRetriever` and implement
    one method, ``_retrieve(query, k, filters) -> list[Hit]`` (the arguments arrive
    checked), with a ``name``. The base class gives the rest for free, as langchain-core's
    ``BaseRetriever`` does: ``retrieve`` (checks the query, ``k`` and the filter, and reads
    one generation of every knowledge base it touches), ``aretrieve`` (the search in a worker
    thread, off the event loop), and ``batch_retrieve`` / ``abatch_retrieve`` (a loop, or
    ``_batch_retrieve`` when a subclass vectorises it). Any object with these methods is a
    retriever without the base class.
    """

    name: str

    def retrieve(self, query: str, k: int = 10, filters: Filters | None = None) -> list[Hit]: ...

    async def aretrieve(
        self, query: str, k: int = 10, filters: Filters | None = None
    ) -> list[Hit]: ...

    def batch_retrieve(
        self, queries: Sequence[str], k: int = 10, filters: Filters | None = None
    ) -> list[list[Hit]]: ...


class IndexedGeneration(Protocol):
    """One committed generation of a knowledge base, as a search reads it
    (:class:`rag_plugins.store.snapshot.Snapshot`)."""

    generation: int
    rows: np.ndarray

    def index(self, kind: str) -> Any:
        """The generation's index of ``kind`` (``bm25``, ``vectors``, ``graph``), or a
        :class:`~rag_plugins.errors.MissingIndexError` saying how to get one."""
        ...

    def has(self, kind: str) -> bool: ...

    def allowed_positions(self, filters: Filters | None) -> np.ndarray | None: ...

    def allowed_rows(self, filters: Filters | None) -> np.ndarray | None: ...


@runtime_checkable
class SearchableBase(Protocol):
    """What the retrievers read from a knowledge base, and all they read: the generation to
    search, query embeddings, and hits made from the chunk rows an index returned.
    :class:`rag_plugins.store.KnowledgeBase` implements it; so can a remote base."""

    path: Any
    embedder: "Embedder | None"
    bm25_statistics: str
    index_kinds: tuple[str, ...]

    def searchable_snapshot(self) -> IndexedGeneration: ...

    def embed_queries(self, queries: Sequence[str]) -> np.ndarray: ...

    def hits(self, rows: np.ndarray, scores: np.ndarray, source: str) -> list[Hit]: ...


@runtime_checkable
class SearchObserver(Protocol):
    """Told about every search made through :func:`rag_plugins.tracing.traced_search` on
    an observed retriever (:class:`rag_plugins.tracing.ObservedRetriever`): a retrieval
    log, a collapse monitor. ``observe`` runs on the search path, so it must be quick and
    must not raise; a slow observer hands the record to a thread of its own."""

    def observe(self, search: Any) -> None:
        """``search`` is the finished :class:`rag_plugins.tracing.TracedSearch`."""
        ...


class RetrieverCatalog(Protocol):
    """Builds a retriever of a named kind over a base (:data:`rag_plugins.catalog.CATALOG`)."""

    def build(self, kind: str, kb: SearchableBase, /, **options: Any) -> Retriever: ...


@runtime_checkable
class Embedder(Protocol):
    """Turns text into fixed-size float32 vectors."""

    model_id: str

    @property
    def dimension(self) -> int: ...

    @property
    def normalize(self) -> bool: ...

    @property
    def fingerprint(self) -> str:
        """Changes whenever the model's weights change, even at the same dimension."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...


class TokenCounter(Protocol):
    def __call__(self, text: str) -> int: ...


@runtime_checkable
class Reranker(Protocol):
    """Reorders (and may cut) one query's hits, returning new hits."""

    name: str

    def rerank(self, query: str, hits: Sequence[Hit], top_n: int | None = None) -> list[Hit]: ...


class IndexServices(Protocol):
    """What the store lends an index while it loads or builds a generation: the base's
    settings and its shared, cached work (embedding, entity extraction)."""

    settings: Mapping[str, Any]
    use_gpu: bool | None

    @property
    def has_embedder(self) -> bool: ...

    def show_progress(self, n: int) -> bool | None:
        """Whether a loop over ``n`` items shows a progress bar."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of chunk texts (content-hash cached: each text is embedded once)."""
        ...

    def entity_vectors(self, keys: Sequence[str]) -> np.ndarray:
        """Unit vectors of entity names (cached like :meth:`embed`)."""
        ...

    def extract(self, chunks: Sequence[Chunk]) -> list[Any]:
        """The base's extractor's output for ``chunks`` (cached for LLM extractors)."""
        ...

    def chunk_ids(self, rows: np.ndarray) -> list[str]:
        """The ids of committed chunk rows (what ``removed_rows`` were)."""
        ...


@runtime_checkable
class Index(Protocol):
    """One generation of one index kind. Generations are immutable: :meth:`apply` returns
    the next one and leaves this one as readers see it. An index whose data lives in a
    server fits as it is: ``apply`` writes the next generation's data there (a new collection
    or partition), ``save`` writes a small file naming it, ``load`` reads that file and
    connects. Register a kind with :func:`rag_plugins.index.register_index`.

    ``rows`` is the chunk row at each position for indexes that hold every chunk in row
    order (the store checks it against ``kb.sqlite``), or None for those that do not."""

    kind: ClassVar[str]
    rows: np.ndarray | None

    @classmethod
    def wanted(cls, settings: Mapping[str, Any]) -> bool:
        """Whether a base created with ``settings`` has an index of this kind."""
        ...

    @classmethod
    def empty(cls, services: "IndexServices") -> "Index":
        """Generation 0: nothing indexed."""
        ...

    @classmethod
    def load(cls, directory: Path, services: "IndexServices") -> "Index":
        """The generation saved in ``directory`` (whose manifest has been verified)."""
        ...

    def apply(self, changes: IndexChanges, services: "IndexServices") -> "Index":
        """The next generation: this one without ``changes.removed_rows``, with the new chunks."""
        ...

    def save(self, directory: Path) -> list[str]:
        """Write this generation into ``directory``; return the file names written (the
        manifest checksums them, so readers detect damage)."""
        ...

    def bind(self, rows: np.ndarray, chunk_ids: Sequence[str]) -> None:
        """Told, once a generation becomes readable, its chunk rows (ascending; position
        ``i`` of a filter mask is ``rows[i]``) and the chunk id of each."""
        ...

    def search(self, query: Any, k: int, allowed_rows: np.ndarray | None = None,
               **options: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per query of the batch ``query`` (each kind reads its own query type: texts for
        BM25, vectors for FAISS, restart weights for the graph), the best ``k`` chunk rows
        among ``allowed_rows`` (None: all) and their scores, best first."""
        ...

    def describe(self) -> dict[str, Any]:
        """``{"kind", "size", "unit", "settings"}``: what ``kb.describe()`` and the manifest show."""
        ...


@runtime_checkable
class Extractor(Protocol):
    """Turns chunks into :class:`~rag_plugins.extraction_types.Extraction` s, one per chunk,
    in order.

    ``config()`` is recorded with the knowledge base, so a base is never extended with
    a different extractor than the one that built its graph.
    """

    name: str

    def config(self) -> dict[str, Any]: ...

    def extract(self, chunks: Sequence[Chunk]) -> list[Extraction]: ...


@runtime_checkable
class Router(Protocol):
    """Decides which routes answer a query. ``needs_embedding`` asks the caller to put the
    query embedding into the features (the learned router reads it)."""

    name: str
    needs_embedding: bool

    def decide(self, features: QueryFeatures, routes: tuple[str, ...]) -> RouteDecision: ...


@runtime_checkable
class Generator(Protocol):
    """Anything that turns a :class:`~rag_plugins.generation_types.GenerationRequest` into a
    :class:`~rag_plugins.generation_types.Generation`.

    ``agenerate`` must not block the event loop;
    :class:`rag_plugins.generation.BaseGenerator` runs ``generate`` in a worker thread for
    generators with no native async call.
    """

    name: str

    def generate(self, request: GenerationRequest) -> Generation: ...

    async def agenerate(self, request: GenerationRequest) -> Generation: ...
