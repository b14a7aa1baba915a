"""The passages a prompt carries: deduplicated across iterations and fitted to a token budget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from rag_plugins._validation import check_count
from rag_plugins.chunking import count_words
from rag_plugins.types import Hit


@dataclass(frozen=True)
class FittedContext:
    """What went into the prompt: the hits, their text, its size in tokens, and the chunk
    ids left out because the budget was spent (``truncated`` names a passage cut short)."""

    hits: tuple[Hit, ...]
    text: str
    tokens: int
    dropped: tuple[str, ...] = ()
    truncated: str | None = None


def unique_hits(hits: Iterable[Hit]) -> list[Hit]:
    """Hits in order, each chunk once, and each distinct passage text once (the same
    paragraph indexed under two ids is one passage to a reader)."""
    seen_ids: set[str] = set()
    seen_texts: set[str] = set()
    out = []
    for hit in hits:
        text = " ".join(hit.chunk.text.split())
        if hit.chunk.id in seen_ids or text in seen_texts:
            continue
        seen_ids.add(hit.chunk.id)
        seen_texts.add(text)
        out.append(hit)
    return out


def passage_text(index: int, hit: Hit) -> str:
    title = hit.chunk.metadata.get("title")
    head = f"[{index}] ({hit.chunk.id})" + (f" {title}:" if isinstance(title, str) and title.strip() else "")
    return f"{head} {' '.join(hit.chunk.text.split())}"


class ContextWindow:
    """Fit passages into ``token_budget`` tokens, best first, without repeats.

    ``count_tokens`` measures text (default: words; pass the generator's tokenizer count
    for an exact budget). A passage that does not fit is cut at a word boundary when at
    least ``min_tokens`` of it fit, and dropped otherwise; every passage after it is dropped.

    >>> from rag_plugins.types import Chunk
    >>> hits = [Hit(Chunk(f"d{i}#0", f"d{i}", f"passage {i} has six words", 0), 1.0) for i in range(3)]
    >>> fitted = ContextWindow(token_budget=12, min_tokens=3).fit(hits + hits[:1])
    >>> [h.chunk.id for h in fitted.hits], fitted.truncated, fitted.dropped
    (['d0#0', 'd1#0'], 'd1#0', ('d2#0',))
    """

    def __init__(self, token_budget: int = 2000, count_tokens: Callable[[str], int] = count_words,
                 min_tokens: int = 32):
        check_count(token_budget, "token_budget")
        self.token_budget = token_budget
        self.count_tokens = count_tokens
        self.min_tokens = min_tokens

    def fit(self, hits: Sequence[Hit]) -> FittedContext:
        kept: list[Hit] = []
        blocks: list[str] = []
        used = 0
        truncated = None
        candidates = unique_hits(hits)
        for hit in candidates:
            block = passage_text(len(kept) + 1, hit)
            size = self.count_tokens(block)
            if used + size <= self.token_budget:
                kept.append(hit)
                blocks.append(block)
                used += size
                continue
            room = self.token_budget - used
            if room >= self.min_tokens:
                words = block.split()
                lo, hi = 0, len(words)
                while lo < hi:  # the longest word prefix that fits
                    mid = (lo + hi + 1) // 2
                    if self.count_tokens(" ".join(words[:mid]) + " …") <= room:
                        lo = mid
                    else:
                        hi = mid - 1
                if lo:
                    block = " ".join(words[:lo]) + " …"
                    kept.append(hit)
                    blocks.append(block)
                    used += self.count_tokens(block)
                    truncated = hit.chunk.id
            break
        kept_ids = {h.chunk.id for h in kept}
        dropped = tuple(h.chunk.id for h in candidates if h.chunk.id not in kept_ids)
        return FittedContext(tuple(kept), "\n".join(blocks), used, dropped, truncated)
