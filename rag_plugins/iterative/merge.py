"""One ranking from the rankings of several iterations."""

from __future__ import annotations

from typing import Sequence

from rag_plugins.types import Hit

# Each earlier round's best hits kept above the last round's: the best recall_all@5 on the
# tuning half of HotpotQA dev among the merges that keep the questions hybrid alone already
# answers within 0.03 of hybrid (keep 2 scored 0.680 there but lost 0.077 on those questions;
# keep 4 0.673 and 0.013). benchmarks/confident_merge.py.
DEFAULT_KEEP = 4


def cascade_merge(rankings: Sequence[Sequence[Hit]], keep: int = DEFAULT_KEEP,
                  protect: float | None = None) -> list[Hit]:
    """The first ``keep`` chunks of every iteration but the last, in iteration order, then
    the last iteration's ranking, then whatever else was retrieved; each chunk once.

    With ``protect``, an earlier iteration also keeps, ahead of the later ones, every hit
    whose score is within the top ``1 - protect`` of its ranking's score range (min-max over
    the ranking, so it holds for any score scale): a hit the first search was confident of is
    not pushed out by the next hop's.

    An iteration's query is the question plus what the previous iteration found, so its
    best hits are the next hop, while the first hits of the earlier iterations are the hops
    that led there: a multi-hop question needs both near the top, and a question the first
    search already answered must not lose its hits to the next hop's. ``keep`` was chosen on
    half of HotpotQA dev (:data:`DEFAULT_KEEP`).

    >>> from rag_plugins.types import Chunk
    >>> def hits(*ids):
    ...     return [Hit(Chunk(i, i, i, 0), 1.0) for i in ids]
    >>> [h.chunk.id for h in cascade_merge([hits("a", "b", "c"), hits("b", "x", "y")], keep=1)]
    ['a', 'b', 'x', 'y', 'c']
    >>> sure = [Hit(Chunk(i, i, i, 0), s) for i, s in (("a", 3.0), ("b", 2.9), ("c", 0.5), ("d", 0.0))]
    >>> [h.chunk.id for h in cascade_merge([sure, hits("x", "y")], keep=1, protect=0.8)]
    ['a', 'b', 'x', 'y', 'c', 'd']
    """
    if not rankings:
        return []
    seen: set[str] = set()
    out: list[Hit] = []

    def take(hits: Sequence[Hit], limit: int | None = None) -> None:
        taken = 0
        for hit in hits:
            if limit is not None and taken >= limit:
                return
            if hit.chunk.id not in seen:
                seen.add(hit.chunk.id)
                out.append(hit)
                taken += 1

    for ranking in rankings[:-1]:
        take(ranking, max(keep, _confident(ranking, protect)))
    take(rankings[-1])
    for ranking in rankings[:-1]:
        take(ranking)
    return out


def _confident(ranking: Sequence[Hit], protect: float | None) -> int:
    """How many of ``ranking``'s leading hits score at least ``protect`` of the way from its
    lowest score to its highest (0 without ``protect`` or with flat scores)."""
    if protect is None or len(ranking) < 2:
        return 0
    scores = [h.score for h in ranking]
    low, high = min(scores), max(scores)
    if high <= low:
        return 0
    count = 0
    for s in scores:
        if (s - low) / (high - low) < protect:
            break
        count += 1
    return count
