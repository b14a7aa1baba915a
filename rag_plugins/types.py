"""The value types every component passes around: Document, Chunk, Hit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class Document:
    """A unit the user adds, updates and deletes by id.

    >>> Document(id="d1", text="Hello", metadata={"lang": "en"}).id
    'd1'
    """

    id: str
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    """A retrievable piece of a document.

    ``metadata`` holds the document's metadata plus ``heading_path`` (the Markdown
    headings above the chunk, outermost first) and ``char_start`` / ``char_end``.

    >>> c = Chunk(id="d1#0", document_id="d1", text="Hi", position=0,
    ...           metadata={"heading_path": ["Intro"]})
    >>> c.heading_path
    ['Intro']
    """

    id: str
    document_id: str
    text: str
    position: int
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def heading_path(self) -> list[str]:
        return list(self.metadata.get("heading_path", []))


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with its score and where the score came from.

    ``scores`` and ``ranks`` (1-based) hold each source retriever's own score and rank,
    keyed by retriever name; ``provenance`` names the indexes that returned the chunk.

    >>> h = Hit(chunk=Chunk("d#0", "d", "t", 0), score=0.5,
    ...         scores={"bm25": 3.1}, ranks={"bm25": 1}, provenance=("bm25",))
    >>> h.scores["bm25"], h.ranks["bm25"]
    (3.1, 1)
    """

    chunk: Chunk
    score: float
    scores: Mapping[str, float] = field(default_factory=dict)
    ranks: Mapping[str, int] = field(default_factory=dict)
    provenance: tuple[str, ...] = ()

    @property
    def document_id(self) -> str:
        return self.chunk.document_id

    def flat_metadata(self) -> dict[str, Any]:
        """Chunk metadata plus ids, scores, ranks and provenance: what framework adapters attach."""
        return {
            **dict(self.chunk.metadata),
            "chunk_id": self.chunk.id,
            "document_id": self.chunk.document_id,
            "position": self.chunk.position,
            "score": self.score,
            "scores": dict(self.scores),
            "ranks": dict(self.ranks),
            "provenance": list(self.provenance),
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view, used by the CLI and the framework adapters."""
        return {
            "chunk_id": self.chunk.id,
            "document_id": self.chunk.document_id,
            "position": self.chunk.position,
            "text": self.chunk.text,
            "metadata": dict(self.chunk.metadata),
            "score": self.score,
            "scores": dict(self.scores),
            "ranks": dict(self.ranks),
            "provenance": list(self.provenance),
        }
