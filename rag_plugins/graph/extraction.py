"""What an extractor finds in a chunk, and the extractor protocol.

An :class:`Extraction` is everything one chunk contributes to the knowledge graph: the
entities it mentions and the relations it states. The graph is the union of the
extractions of its chunks, so removing a chunk removes exactly what it contributed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Protocol, Sequence, runtime_checkable

from rag_plugins.errors import InvalidInputError
from rag_plugins.graph.names import entity_key
from rag_plugins.types import Chunk


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


@runtime_checkable
class Extractor(Protocol):
    """Turns chunks into :class:`Extraction` s, one per chunk, in order.

    ``config()`` is recorded with the knowledge base, so a base is never extended with
    a different extractor than the one that built its graph.
    """

    name: str

    def config(self) -> dict[str, Any]: ...

    def extract(self, chunks: Sequence[Chunk]) -> list[Extraction]: ...


def triples_extraction(chunk: Chunk, triples: Iterable[Sequence[Any]], title: str | None = None,
                       weight: float = 1.0) -> Extraction:
    """An extraction from (subject, relation, object) triples: both ends become mentions;
    ``title``, when given, is the document's own title entity."""
    mentions: dict[str, Mention] = {}
    relations = []
    if title and entity_key(title):
        mentions[entity_key(title)] = Mention(entity_key(title), title, 1.0, True)
    for triple in triples:
        if isinstance(triple, (str, bytes)) or len(triple) != 3:
            raise InvalidInputError(
                f"a triple is (subject, relation, object); got {triple!r} for chunk {chunk.id!r}"
            )
        subject, label, obj = (str(x).strip() for x in triple)
        s, o = entity_key(subject), entity_key(obj)
        if not (s and o and label):
            raise InvalidInputError(
                f"triple {triple!r} of chunk {chunk.id!r} has an empty part after normalisation"
            )
        mentions.setdefault(s, Mention(s, subject, weight))
        mentions.setdefault(o, Mention(o, obj, weight))
        relations.append(Relation(s, label, o, weight))
    return Extraction(chunk.id, tuple(mentions.values()), tuple(relations))


@dataclass
class TripleExtractor:
    """User-supplied triples, keyed by document id (every chunk of the document gets
    them) or by chunk id.

    >>> from rag_plugins.types import Chunk
    >>> ex = TripleExtractor({"doc1": [("Marie Curie", "won", "Nobel Prize in Physics")]})
    >>> [m.key for m in ex.extract([Chunk("doc1#0", "doc1", "…", 0)])[0].mentions]
    ['marie curie', 'nobel prize in physics']
    """

    triples: Mapping[str, Sequence[Sequence[Any]]] = field(default_factory=dict)
    name: str = "triples"

    def config(self) -> dict[str, Any]:
        return {"name": self.name}

    def extract(self, chunks: Sequence[Chunk]) -> list[Extraction]:
        out = []
        for chunk in chunks:
            given = list(self.triples.get(chunk.id, ())) + list(self.triples.get(chunk.document_id, ()))
            out.append(triples_extraction(chunk, given, _title(chunk)))
        return out


def _title(chunk: Chunk) -> str | None:
    title = chunk.metadata.get("title")
    return title.strip() if isinstance(title, str) and title.strip() else None
