"""The value types every component passes around: Document, Chunk, Hit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np


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

    @property
    def contextual_text(self) -> str:
        """The text with its document title and heading path above it.

        A chunk deep in a document rarely repeats what it is about; the title and the
        section headings carry that. This is what the indexes and rerankers read.

        >>> Chunk("d#0", "d", "It binds ACE2.", 0,
        ...       {"title": "Spike protein", "heading_path": ["Entry"]}).contextual_text
        'Spike protein > Entry\\nIt binds ACE2.'
        """
        context = self.heading_path
        title = self.metadata.get("title")
        if isinstance(title, str) and title.strip() and context[:1] != [title.strip()]:
            context.insert(0, title.strip())
        return " > ".join(context) + "\n" + self.text if context else self.text


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with its score and where the score came from.

    ``scores`` and ``ranks`` (1-based) hold each source retriever's own score and rank,
    keyed by retriever name; ``provenance`` names the indexes that returned the chunk.
    ``evidence`` holds why a source returned it, when the source can say (the graph
    retriever's ``{"paths": [...], "seeds": [...]}``); fusion and reranking keep it.

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
    evidence: Mapping[str, Any] = field(default_factory=dict)

    @property
    def document_id(self) -> str:
        return self.chunk.document_id

    @classmethod
    def ranked(cls, chunks: Sequence[Chunk], scores: Sequence[float], source: str) -> list["Hit"]:
        """One source's ranked hits, built without the dataclass ``__init__`` (half the cost
        per hit, which is what a top-100 search spends most of its time on).

        >>> [(h.chunk.id, h.ranks) for h in Hit.ranked([Chunk("d#0", "d", "t", 0)], [2.0], "bm25")]
        [('d#0', {'bm25': 1})]
        """
        new = object.__new__
        out = []
        for rank, (chunk, score) in enumerate(zip(chunks, scores), start=1):
            hit = new(cls)
            hit.__dict__.update(chunk=chunk, score=score, scores={source: score}, ranks={source: rank},
                                provenance=(source,), evidence={})
            out.append(hit)
        return out

    def flat_metadata(self) -> dict[str, Any]:
        """Chunk metadata plus ids, scores, ranks, provenance and any evidence: what framework
        adapters attach."""
        flat = {
            **dict(self.chunk.metadata),
            "chunk_id": self.chunk.id,
            "document_id": self.chunk.document_id,
            "position": self.chunk.position,
            "score": self.score,
            "scores": dict(self.scores),
            "ranks": dict(self.ranks),
            "provenance": list(self.provenance),
            "evidence": dict(self.evidence),
        }
        if self.evidence:
            flat["evidence"] = dict(self.evidence)
        return flat

    @classmethod
    def from_flat(cls, chunk_id: str, text: str, metadata: Mapping[str, Any], score: float | None = None,
                  rank: int = 1, source: str = "input") -> "Hit":
        """Rebuild a hit from a framework document's text and metadata: the inverse of
        :meth:`flat_metadata` for our own hits, and a fresh hit (scored by ``source`` at
        ``rank``) for documents that came from elsewhere.

        >>> h = Hit(Chunk("d#0", "d", "t", 0, {"lang": "en"}), 0.5, {"bm25": 0.5}, {"bm25": 1}, ("bm25",))
        >>> Hit.from_flat("d#0", "t", h.flat_metadata()) == h
        True
        """
        meta = dict(metadata)
        own = {k: meta.pop(k) for k in ("chunk_id", "document_id", "position", "score", "scores", "ranks",
                                         "provenance", "evidence") if k in meta}
        if score is None:
            score = own.get("score", 0.0)
        score = float(score) if score is not None else 0.0
        chunk = Chunk(str(own.get("chunk_id", chunk_id)), str(own.get("document_id", chunk_id)), text,
                      int(own.get("position", 0)), meta)
        if "scores" in own and "ranks" in own:
            return cls(chunk, score, dict(own["scores"]), dict(own["ranks"]), tuple(own.get("provenance", ())),
                       dict(own.get("evidence") or {}))
        return cls(chunk, score, {source: score}, {source: rank}, (source,))

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
            "evidence": dict(self.evidence),
        }


@dataclass(frozen=True)
class IndexChanges:
    """One commit, as the indexes see it: the rows it retires (replaced or deleted
    chunks) and the chunks it adds, with their new rows and the text each index reads."""

    removed_rows: np.ndarray
    added_rows: np.ndarray
    chunks: Sequence[Chunk]
    texts: Sequence[str]
