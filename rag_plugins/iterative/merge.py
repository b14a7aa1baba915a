"""One ranking from the rankings of several iterations."""

from __future__ import annotations

from typing import Sequence

from rag_plugins.types import Hit


def cascade_merge(rankings: Sequence[Sequence[Hit]], keep: int = 2) -> list[Hit]:
    """The first ``keep`` chunks of every iteration but the last, in iteration order, then
    the last iteration's ranking, then whatever else was retrieved; each chunk once.

    An iteration's query is the question plus what the previous iteration found, so its
    best hits are the next hop, while the first hits of the earlier iterations are the hops
    that led there: a multi-hop question needs both near the top. ``keep`` was chosen on
    half of HotpotQA dev (``benchmarks/hotpotqa_iterative.py``).

    >>> from rag_plugins.types import Chunk
    >>> def hits(*ids):
    ...     return [Hit(Chunk(i, i, i, 0), 1.0) for i in ids]
    >>> [h.chunk.id for h in cascade_merge([hits("a", "b", "c"), hits("b", "x", "y")], keep=1)]
    ['a', 'b', 'x', 'y', 'c']
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
        take(ranking, keep)
    take(rankings[-1])
    for ranking in rankings[:-1]:
        take(ranking)
    return out
