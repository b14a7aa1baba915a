"""What an extractor finds in a chunk.

An :class:`Extraction` is everything one chunk contributes to the knowledge graph: the
entities it mentions and the relations it states. The graph is the union of the
extractions of its chunks, so removing a chunk removes exactly what it contributed. The
:class:`~rag_plugins.protocols.Extractor` protocol turns chunks into extractions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class Mention:
    """An entity named in a chunk: its key (see :func:`entity_key`), the surface form,
    a weight, and whether it is the title of the chunk's document."""

    key: str
    name: str
    weight: float = 1.0
    title: bool = False


@dataclass(frozen=True)
class Relation:
    """``subject --label--> object`` between entity keys, stated by one chunk."""

    subject: str
    label: str
    object: str
    weight: float = 1.0


@dataclass(frozen=True)
class Extraction:
    """One chunk's contribution. ``candidates`` are keys of name fragments (such as
    "shirley temple" inside "Shirley Temple Black") that count as mentions only when a
    document in the graph has that title."""

    chunk_id: str
    mentions: tuple[Mention, ...] = ()
    relations: tuple[Relation, ...] = ()
    candidates: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "mentions": [[m.key, m.name, m.weight, m.title] for m in self.mentions],
            "relations": [[r.subject, r.label, r.object, r.weight] for r in self.relations],
            "candidates": list(self.candidates),
        }

    @classmethod
    def from_dict(cls, chunk_id: str, data: Mapping[str, Any]) -> "Extraction":
        return cls(
            chunk_id,
            tuple(Mention(k, n, float(w), bool(t)) for k, n, w, t in data.get("mentions", ())),
            tuple(Relation(s, label, o, float(w)) for s, label, o, w in data.get("relations", ())),
            tuple(data.get("candidates", ())),
        )
