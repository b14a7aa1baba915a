"""An offline generator: no language model, so the iterative loops run (and are measured)
anywhere. It reads the current hits and picks the sentences that lead somewhere new."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from rag_plugins._validation import check_count
from rag_plugins.errors import InvalidInputError
from rag_plugins.generation.base import BaseGenerator, Generation, GenerationRequest
from rag_plugins.graph.heuristic import HeuristicExtractor
from rag_plugins.graph.names import entity_key
from rag_plugins.types import Chunk

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”)]?\s+(?=[\"“(]?[A-Z0-9])")
OUTPUTS = ("entities", "sentences")


@dataclass(frozen=True)
class BridgeSentence:
    """A candidate sentence, the hit it came from, the names in it that the question (and
    the loop so far) do not mention, and its similarity to the question."""

    text: str
    chunk_id: str
    entities: tuple[str, ...]
    similarity: float

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "chunk_id": self.chunk_id, "entities": list(self.entities),
                "similarity": self.similarity}


class ExtractiveBridgeGenerator(BaseGenerator):
    """Select, from the top ``top_hits`` hits, the ``sentences`` sentences that best bridge
    to the question: sentences naming an entity or a title not yet in the question or in
    the loop's earlier outputs, ranked by the embedder's cosine similarity to the question.
    With ``use_titles`` (default), a sentence naming nothing new still counts when its
    passage's title is new (the title is then its bridge).

    The output is the new names those sentences carry (``output="entities"``) or the
    sentences themselves (``output="sentences"``). The defaults (names, three sentences,
    titles on) were the best on half of HotpotQA dev (``benchmarks/hotpotqa_iterative.py``). Fed back as the next query, it
    is what a model's partial answer is in ITER-RETGEN: the bridge to the next hop.
    ``metadata["sentences"]`` holds the chosen sentences with their sources.

    ``embed`` is an :class:`~rag_plugins.protocols.Embedder`, anything with
    ``embed_queries`` (a :class:`~rag_plugins.KnowledgeBase`), or a function from texts to
    vectors. Sentence vectors are cached (``cache_size`` most recent).

    >>> import numpy as np
    >>> from rag_plugins.generation import GenerationRequest
    >>> from rag_plugins.types import Chunk, Hit
    >>> def bag_of_words(texts):  # any embedding function works; use a real model in practice
    ...     vocab = ["film", "starring", "temple", "born"]
    ...     return np.array([[t.lower().count(w) + 0.1 for w in vocab] for t in texts], dtype=np.float32)
    >>> hit = Hit(Chunk("k#0", "k", "Kiss and Tell is a 1945 film starring Shirley Temple. It was a hit.", 0,
    ...                 {"title": "Kiss and Tell"}), 1.0)
    >>> gen = ExtractiveBridgeGenerator(bag_of_words)
    >>> gen.generate(GenerationRequest("Who starred in the film Kiss and Tell?", hits=(hit,))).text
    'Shirley Temple'
    """

    def __init__(self, embed: Any, top_hits: int = 5, sentences: int = 3, output: str = "entities",
                 use_titles: bool = True, min_chars: int = 10, cache_size: int = 20_000, name: str = "extractive"):
        if output not in OUTPUTS:
            raise InvalidInputError(f"output must be one of {OUTPUTS}, got {output!r}")
        check_count(top_hits, "top_hits")
        check_count(sentences, "sentences")
        self._embed = _embedding_function(embed)
        self.top_hits = top_hits
        self.sentences = sentences
        self.output = output
        self.use_titles = use_titles
        self.min_chars = min_chars
        self.cache_size = cache_size
        self.name = name
        # what an agent tool calls this generator's text: bridging evidence, not an answer
        self.answer_label = ("Names the searches bridged through (not an answer)" if output == "entities"
                             else "Bridging sentences (not an answer)")
        self._extractor = HeuristicExtractor(noun_phrases=False)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def candidates(self, request: GenerationRequest) -> list[BridgeSentence]:
        """Every sentence of the top hits that names something new, most similar first."""
        known = entity_key(" ".join((request.question, *request.history)))
        used = {s for h in request.history for s in _sentences(h)}
        found: list[tuple[str, str, tuple[str, ...]]] = []
        seen: set[str] = set()
        for hit in request.hits[: self.top_hits]:
            title = hit.chunk.metadata.get("title")
            for sentence in _sentences(hit.chunk.text):
                if len(sentence) < self.min_chars or sentence in used or sentence in seen:
                    continue
                seen.add(sentence)
                names = self._new_names(sentence, known)
                if not names and self.use_titles and isinstance(title, str) and title.strip() \
                        and not _contains(known, entity_key(title)):
                    names = (title.strip(),)
                if names:
                    found.append((sentence, hit.chunk.id, names))
        if not found:
            return []
        vectors = self._vectors([request.question] + [s for s, _, _ in found])
        similarity = vectors[1:] @ vectors[0]
        out = [BridgeSentence(s, cid, names, float(sim)) for (s, cid, names), sim in zip(found, similarity)]
        return sorted(out, key=lambda b: -b.similarity)

    def generate(self, request: GenerationRequest) -> Generation:
        chosen = self.candidates(request)[: self.sentences]
        if self.output == "sentences":
            text = " ".join(b.text for b in chosen)
        else:
            text = " ".join(dict.fromkeys(n for b in chosen for n in b.entities))
        return Generation(text, None, {"generator": self.name, "sentences": [b.to_dict() for b in chosen]})

    def _new_names(self, sentence: str, known: str) -> tuple[str, ...]:
        extraction = self._extractor.extract([Chunk("_", "_", sentence, 0, {})])[0]
        new = [m for m in extraction.mentions if m.weight >= 1.0 and m.key and not _contains(known, m.key)]
        # "Almost a Bride" also yields the fragments "Almost" and "Bride": keep the whole name
        return tuple(m.name for m in new if not any(o.key != m.key and _contains(o.key, m.key) for o in new))

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if todo:
            fresh = np.asarray(self._embed(todo), dtype=np.float32)
            if fresh.shape[0] != len(todo) or not np.isfinite(fresh).all():
                raise InvalidInputError("the embedding function returned the wrong number of vectors or "
                                        "non-finite values; check the model passed as embed")
            fresh = fresh / np.maximum(np.linalg.norm(fresh, axis=1, keepdims=True), 1e-12)
            with self._lock:
                self._cache.update(zip(todo, fresh))
        with self._lock:
            vectors = np.stack([self._cache[t] for t in texts])
            for t in texts:
                self._cache.move_to_end(t)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return vectors


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _contains(known: str, key: str) -> bool:
    return f" {key} " in f" {known} "


def _embedding_function(embed: Any) -> Callable[[list[str]], np.ndarray]:
    if hasattr(getattr(embed, "embedder", None), "embed_queries"):  # a KnowledgeBase: skip its query cache
        return embed.embedder.embed_queries
    if hasattr(embed, "embed_queries"):
        return embed.embed_queries
    if callable(embed):
        return embed
    raise InvalidInputError(
        f"embed must be an embedder, a KnowledgeBase or a function from texts to vectors, got {type(embed).__name__}"
    )
