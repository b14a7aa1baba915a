"""What an iterative run records: every step (retrieval or generation) and the result."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from rag_plugins.generation.base import Generation
from rag_plugins.tracing import Provenance
from rag_plugins.types import Hit

PATHS = ("retrieved", "skipped", "abstained")
@dataclass(frozen=True)
class Step:
    """One retrieval or one generation, in the order they ran.

    ``kind`` is ``retrieval`` (``query`` and ``hits`` set, ``confidence`` when an
    estimator is configured) or ``generation`` (``generation`` set, ``hits`` the context
    it read). ``reason`` says why the step ran (``initial``, ``iteration``,
    ``low_probability``, ``search_request``, ``regenerate``, ``closed_book``, ``answer``,
    ``lookahead``). ``details`` holds the rest: masked tokens, the context's size in tokens
    and what the budget left out, new hits.
    """

    index: int
    kind: str
    reason: str
    seconds: float
    query: str | None = None
    hits: tuple[Hit, ...] = ()
    generation: Generation | None = None
    confidence: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "kind": self.kind, "reason": self.reason,
                               "seconds": self.seconds}
        if self.query is not None:
            out["query"] = self.query
        out["hits"] = [{"chunk_id": h.chunk.id, "document_id": h.document_id, "score": h.score} for h in self.hits]
        if self.generation is not None:
            out["generation"] = self.generation.to_dict()
        if self.confidence is not None:
            out["confidence"] = self.confidence
        if self.details:
            out["details"] = dict(self.details)
        return out


@dataclass(frozen=True)
class IterativeResult:
    """The answer, the hits of every retrieval merged best first (each chunk once), the
    trace, and why the loop stopped.

    ``path`` is ``retrieved``, ``skipped`` (the generator answered confidently without
    retrieval) or ``abstained`` (retrieval confidence was too low: ``answer`` is then the
    explicit insufficient-evidence ``message`` and ``hits`` is empty, while ``candidates``
    keeps what was retrieved).
    """

    question: str
    answer: str
    hits: tuple[Hit, ...]
    steps: tuple[Step, ...]
    stop_reason: str
    path: str = "retrieved"
    confidence: float | None = None
    message: str | None = None
    candidates: tuple[Hit, ...] = ()
    seconds: float = 0.0
    provenance: Provenance | None = None
    """Set by the pipeline that ran the loop."""

    @property
    def abstained(self) -> bool:
        return self.path == "abstained"

    @property
    def queries(self) -> list[str]:
        """The queries sent to the retriever, in order."""
        return [s.query for s in self.steps if s.kind == "retrieval" and s.query is not None]

    @property
    def retrievals(self) -> int:
        return sum(1 for s in self.steps if s.kind == "retrieval")

    def hits_by_step(self) -> list[tuple[int, tuple[Hit, ...]]]:
        """(step index, hits) for every retrieval: the hits of every iteration."""
        return [(s.index, s.hits) for s in self.steps if s.kind == "retrieval"]

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "answer": self.answer, "path": self.path,
                "stop_reason": self.stop_reason, "abstained": self.abstained, "message": self.message,
                "confidence": self.confidence, "seconds": self.seconds, "queries": self.queries,
                "hits": [h.to_dict() for h in self.hits], "steps": [s.to_dict() for s in self.steps],
                "provenance": self.provenance.to_dict() if self.provenance is not None else None}

    def with_provenance(self, retriever: str, generations: set[int] | tuple[int, ...]) -> "IterativeResult":
        """This result with its :class:`Provenance`: ``retriever`` searched, reading ``generations``."""
        memory = {"skipped": "parametric", "abstained": "none"}.get(self.path, "retrieval")
        hits = self.hits if memory == "retrieval" else ()
        sources = tuple(dict.fromkeys(source for h in hits for source in h.provenance))
        return replace(self, provenance=Provenance(
            memory, retriever, sources, tuple(h.chunk.id for h in hits), tuple(dict.fromkeys(h.document_id for h in hits)),
            tuple(sorted(generations)) if memory != "parametric" else ()))
