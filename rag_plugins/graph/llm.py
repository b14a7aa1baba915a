"""Triples from a language model: the prompt, batching and validation, independent of
any framework. The LangChain and LlamaIndex packages supply ``predict`` through their
models' structured output (``with_structured_output`` / ``structured_predict``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from rag_plugins._validation import check_count
from rag_plugins.errors import ExtractionError, InvalidInputError
from rag_plugins.graph.extraction import Extraction, _title, triples_extraction
from rag_plugins.types import Chunk

TRIPLE_PROMPT = """Extract the facts the passage states as (subject, relation, object) triples.
Use the names as written in the passage (full names, not pronouns); the relation is a short
verb phrase. Leave out opinions and anything the passage does not say.

Title: {title}
Passage:
{text}"""

MAX_PART_CHARS = 200


def _parts(item: Any) -> tuple[Any, Any, Any]:
    if isinstance(item, Mapping):
        return item.get("subject"), item.get("relation"), item.get("object")
    if isinstance(item, (list, tuple)) and len(item) == 3:
        return item[0], item[1], item[2]
    return getattr(item, "subject", None), getattr(item, "relation", None), getattr(item, "object", None)


def validated_triples(output: Any, chunk_id: str, limit: int) -> tuple[list[tuple[str, str, str]], int]:
    """Triples from a model's structured output (a list of mappings, 3-tuples or objects
    with ``subject``/``relation``/``object``, or an object whose ``triples`` is one).
    Returns (kept, rejected): parts that are not non-empty strings of at most
    ``MAX_PART_CHARS`` are rejected; more than ``limit`` triples are cut."""
    triples = getattr(output, "triples", output)
    if isinstance(triples, Mapping) and "triples" in triples:
        triples = triples["triples"]
    if isinstance(triples, (str, bytes)) or not isinstance(triples, Sequence):
        raise ExtractionError(
            f"the model's answer for chunk {chunk_id!r} is {type(triples).__name__}, not a list of "
            "triples; use a model with structured output (tool calling or JSON mode)"
        )
    kept, rejected = [], 0
    for item in triples:
        parts = _parts(item)
        if all(isinstance(p, str) and p.strip() and len(p) <= MAX_PART_CHARS for p in parts):
            kept.append(tuple(p.strip() for p in parts))
        else:
            rejected += 1
    return kept[:limit], rejected + max(0, len(kept) - limit)


@dataclass
class LLMTripleExtractor:
    """An :class:`~rag_plugins.graph.extraction.Extractor` that asks a language model.

    ``predict`` maps a batch of prompts to one structured answer per prompt. ``model``
    names the model in the knowledge base's settings (a base is never extended with
    another model's triples). Knowledge bases cache the results by chunk content, so
    re-indexing unchanged text never asks the model again.

    >>> def predict(prompts):   # a scripted model, one answer per prompt
    ...     return [[{"subject": "Ada Lovelace", "relation": "worked with", "object": "Charles Babbage"}]
    ...             for _ in prompts]
    >>> ex = LLMTripleExtractor(predict, model="scripted")
    >>> ex.extract([Chunk("a#0", "a", "Ada Lovelace worked with Charles Babbage.", 0)])[0].relations[0].label
    'worked with'
    """

    predict: Callable[[list[str]], Sequence[Any]]
    model: str
    batch_size: int = 8
    max_triples: int = 32
    prompt: str = TRIPLE_PROMPT
    name: str = "llm"
    cache = True
    rejected: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if not callable(self.predict):
            raise InvalidInputError("predict must be callable: a batch of prompts -> one answer per prompt")
        check_count(self.batch_size, "batch_size")
        check_count(self.max_triples, "max_triples")
        if "{text}" not in self.prompt:
            raise InvalidInputError("the prompt needs a {text} placeholder (and may use {title})")

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model, "max_triples": self.max_triples,
                "prompt_sha256": hashlib.sha256(self.prompt.encode()).hexdigest()[:16]}

    def prompt_for(self, chunk: Chunk) -> str:
        return self.prompt.format(title=_title(chunk) or "(none)", text=chunk.text)

    def extract(self, chunks: Sequence[Chunk]) -> list[Extraction]:
        out: list[Extraction] = []
        for start in range(0, len(chunks), self.batch_size):
            part = list(chunks[start : start + self.batch_size])
            try:
                answers = list(self.predict([self.prompt_for(c) for c in part]))
            except ExtractionError:
                raise
            except Exception as exc:  # the model's own parser rejected its answer, or the call failed
                raise ExtractionError(
                    f"{self.model} could not extract triples for chunks {[c.id for c in part][:5]}: {exc}"
                ) from exc
            if len(answers) != len(part):
                raise ExtractionError(f"predict returned {len(answers)} answers for {len(part)} prompts")
            for chunk, answer in zip(part, answers):
                triples, rejected = validated_triples(answer, chunk.id, self.max_triples)
                self.rejected += rejected
                out.append(triples_extraction(chunk, triples, _title(chunk)))
        return out
