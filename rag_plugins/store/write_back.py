"""Verified write-back: a generated answer joins the corpus only when it is supported,
cites what exists, and says something new.

``kb.write_back(answer, citations, question)`` runs three checks and commits the answer as
a document only when all pass:

1. **citations** — every cited chunk is in the current generation.
2. **attribution** — every sentence of the answer is supported by a cited chunk. With a
   ``verifier`` (an NLI or cross-encoder model: anything with ``score_pairs([(premise,
   hypothesis)])``, such as :class:`~rag_plugins.rerank.cross_encoder.CrossEncoderReranker`
   over an NLI checkpoint), a sentence needs a probability of at least ``min_support``
   against one cited chunk. Without one the check is lexical, and weaker: the share of the
   sentence's content terms (stemmed, stopwords out) found in the cited chunks must reach
   ``min_coverage``, and every number in it must appear in them. It catches new facts and
   changed figures, not a negation or a swapped relation made of cited words.
3. **novelty** — the answer is not a near-duplicate of a chunk already there (cosine of
   at least ``max_similarity`` by the base's own model, or, without one, term Jaccard
   against the best BM25 matches).

An accepted answer is a document ``generated/<hash>`` with metadata ``generated: true``
and its provenance (question, citations, model, time, batch). Searches leave generated
text out unless the base is opened with ``include_generated=True`` or a filter names
``generated``; ``kb.remove_generated(batch)`` deletes them as a group. A rejection is
logged (logger ``rag_plugins.store``) with the failing check, and returned.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from rag_plugins.errors import InvalidInputError
from rag_plugins.store.snapshot import GENERATED
from rag_plugins.text.analysis import Analyzer
from rag_plugins.types import Document

_log = logging.getLogger("rag_plugins.store")

PREFIX = "generated/"
MIN_COVERAGE = 0.85
"""The lexical support a sentence needs by default: chosen on SciFact's train claims as the
most accurate threshold refusing at least 95% of claims cited against the wrong abstract
(``benchmarks/write_back.py``). It is strict: on the test claims it accepts 23% of the
supported ones; paraphrasing answers need a verifier."""
MIN_SUPPORT = 0.5
MAX_SIMILARITY = 0.95
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class WriteBackResult:
    """``accepted`` with the new ``document_id``, or refused by the first failing check."""

    accepted: bool
    document_id: str | None
    checks: tuple[Check, ...]
    generation: int | None = None
    unsupported: tuple[str, ...] = field(default=())
    """The answer's sentences no cited chunk supports."""

    @property
    def failed(self) -> Check | None:
        return next((c for c in self.checks if not c.passed), None)


_ABBREVIATIONS = {"dr", "mr", "mrs", "ms", "prof", "st", "vs", "etc", "e.g", "i.e", "inc", "no", "fig", "approx"}


def sentences(text: str) -> list[str]:
    """The answer's sentences: split after . ! ? before a capital or a digit, but not after
    an abbreviation (Dr., e.g., Fig.)."""
    out: list[str] = []
    for piece in (p.strip() for p in _SENTENCE.split(text.strip())):
        if out and out[-1].rsplit(None, 1)[-1].rstrip(".").lower() in _ABBREVIATIONS:
            out[-1] = f"{out[-1]} {piece}"
        elif piece:
            out.append(piece)
    return [s for s in out if len(s) > 1]


def write_back(kb: Any, answer: str, citations: Sequence[Any], question: str, *, model: str | None = None,
               verifier: Any = None, batch: str = "default", min_coverage: float = MIN_COVERAGE,
               min_support: float = MIN_SUPPORT, max_similarity: float = MAX_SIMILARITY,
               log: Any = None) -> WriteBackResult:
    """:meth:`KnowledgeBase.write_back`'s work; see the module doc."""
    kb._require_writer("write back an answer")
    for name, value in (("answer", answer), ("question", question), ("batch", batch)):
        if not isinstance(value, str) or not value.strip():
            raise InvalidInputError(f"write_back needs a non-empty {name} (str), got {value!r}")
    cited_ids = [getattr(c, "chunk", c).id if hasattr(c, "chunk") else c for c in citations]
    if not cited_ids or not all(isinstance(c, str) and c for c in cited_ids):
        raise InvalidInputError("write_back needs citations: the chunk ids (or hits) the answer rests on")
    checks: list[Check] = []
    cited = kb.store.live_chunks_by_id(cited_ids)
    missing = [c for c in cited_ids if c not in cited]
    checks.append(Check("citations", not missing, f"not in the current generation: {missing}" if missing
                        else f"{len(cited)} cited chunk(s) found"))
    unsupported: tuple[str, ...] = ()
    if not missing:
        texts = [cited[c].text for c in dict.fromkeys(cited_ids)]
        unsupported = tuple(_unsupported(answer, texts, kb, verifier, min_coverage, min_support))
        checks.append(Check("attribution", not unsupported, f"{len(unsupported)} unsupported sentence(s): "
                            f"{list(unsupported)[:3]}" if unsupported else "every sentence is supported"
                            + (" (verifier)" if verifier is not None else " (lexical)")))
    if all(c.passed for c in checks):
        checks.append(_novelty(kb, answer, question, max_similarity))
    if not all(c.passed for c in checks):
        failed = next(c for c in checks if not c.passed)
        _log.warning("write-back refused by the %s check: %s (question %r)", failed.name, failed.detail, question)
        _record(log, question, False, failed)
        return WriteBackResult(False, None, tuple(checks), None, unsupported)
    doc_id = PREFIX + hashlib.sha256(f"{question}\x00{answer}".encode()).hexdigest()[:16]
    metadata = {GENERATED: True, "title": question, "question": question, "citations": list(cited_ids),
                "model": model, "written_at": time.time(), "write_back_batch": batch}
    kb.upsert([Document(doc_id, answer, metadata)])
    generation = kb.commit().generation
    _record(log, question, True, None)
    return WriteBackResult(True, doc_id, tuple(checks), generation)


def remove_generated(kb: Any, batch: str | None = None) -> list[str]:
    """Delete the written-back documents (of one ``batch``, or all) in one commit."""
    kb._require_writer("remove generated documents")
    gone = [doc_id for doc_id in kb.document_ids() if doc_id.startswith(PREFIX)
            and (batch is None or kb.get(doc_id).metadata.get("write_back_batch") == batch)]
    if gone:
        kb.delete(gone)
        kb.commit()
    return gone


def _unsupported(answer: str, cited: list[str], kb: Any, verifier: Any, min_coverage: float,
                 min_support: float) -> list[str]:
    parts = sentences(answer)
    if verifier is not None:
        pairs = [(text, sentence) for sentence in parts for text in cited]
        scores = np.asarray(verifier.score_pairs(pairs), dtype=np.float64).reshape(len(parts), len(cited))
        if not getattr(verifier, "probabilities", False):  # logits, as a cross-encoder gives
            scores = 1.0 / (1.0 + np.exp(-scores))
        return [s for s, row in zip(parts, scores) if row.max() < min_support]
    support = LexicalSupport(cited, Analyzer.from_config(kb.settings["analyzer"]))
    return [sentence for sentence in parts if not support.supports(sentence, min_coverage)]


class LexicalSupport:
    """The lexical attribution check over some cited texts: a sentence is supported when
    the share of its content terms found in them (:meth:`coverage`) reaches a threshold and
    every number in it appears in them."""

    def __init__(self, cited: Sequence[str], analyzer: Analyzer):
        self.analyzer = analyzer
        self.terms = set().union(*(analyzer.tokenize(text) for text in cited))
        self.numbers = set().union(*(_NUMBER.findall(text) for text in cited))

    def coverage(self, sentence: str) -> float:
        tokens = self.analyzer.tokenize(sentence)
        return sum(t in self.terms for t in tokens) / len(tokens) if tokens else 1.0

    def numbers_found(self, sentence: str) -> bool:
        return set(_NUMBER.findall(sentence)) <= self.numbers

    def supports(self, sentence: str, min_coverage: float = 0.0) -> bool:
        return self.coverage(sentence) >= min_coverage and self.numbers_found(sentence)


def _novelty(kb: Any, answer: str, question: str, max_similarity: float) -> Check:
    snap = kb._snapshot
    if len(snap.rows) == 0:
        return Check("novelty", True, "the base is empty")
    if snap.has("vectors"):
        # the answer as it reads, and as the index would embed it (titled by its question)
        forms = [answer, f"{question}\n{answer}"] if kb.settings["index_context"] else [answer]
        vectors = kb.embeddings.embed(forms)[0]
        found = [(float(scores[0]), int(rows[0])) for rows, scores in snap.index("vectors").search(vectors, 1, None)
                 if len(rows)]
        similarity, row = max(found, default=(0.0, -1))
        if similarity >= max_similarity:
            chunk = kb.store.chunks_by_row([row])[row]
            return Check("novelty", False, f"a near-duplicate of chunk {chunk.id!r} (cosine {similarity:.3f})")
        return Check("novelty", True, f"closest chunk at cosine {similarity:.3f}")
    analyzer = Analyzer.from_config(kb.settings["analyzer"])
    mine = set(analyzer.tokenize(answer))
    rows, _ = snap.index("bm25").search_positions(answer, 5, None, "collection")
    for chunk in kb.store.chunks_by_row(rows.tolist()).values():
        theirs = set(analyzer.tokenize(chunk.text))
        jaccard = len(mine & theirs) / len(mine | theirs) if mine | theirs else 1.0
        if jaccard >= max_similarity:
            return Check("novelty", False, f"a near-duplicate of chunk {chunk.id!r} (term Jaccard {jaccard:.3f})")
    return Check("novelty", True, "no near-duplicate among the best BM25 matches")


def _record(log: Any, question: str, accepted: bool, failed: Check | None) -> None:
    if log is not None:
        log.record_write_back(question, accepted, failed.name if failed else None, failed.detail if failed else None)
