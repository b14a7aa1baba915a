"""Extraction from (subject, relation, object) triples.

The data an extractor gives back lives in :mod:`rag_plugins.extraction_types`, the
protocol in :mod:`rag_plugins.protocols`; both are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from rag_plugins.errors import InvalidInputError
from rag_plugins.extraction_types import Extraction, Mention, Relation
from rag_plugins.graph.names import entity_key
from rag_plugins.protocols import Extractor
from rag_plugins.types import Chunk

__all__ = ["Extraction", "Extractor", "Mention", "Relation", "TripleExtractor", "triples_extraction"]

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
