"""Linking a query to seed entities: exact names, aliases, fuzzy matches of capitalised
spans, and (with an embedder) dense similarity over entity names."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from rag_plugins.graph.heuristic import _COMMON, _capitalised
from rag_plugins.graph.index import GraphIndex
from rag_plugins.graph.names import entity_key

_WORD = re.compile(r"\w+(?:[’'.\-&]\w+)*")
_MAX_NGRAM = 8


@dataclass(frozen=True)
class Seed:
    """An entity the query names: how it was found (``exact``, ``alias``, ``fuzzy`` or
    ``dense``) and its weight in the traversal (rarer entities weigh more)."""

    node: int
    name: str
    matched: str
    how: str
    weight: float

    def to_dict(self) -> dict:
        return {"entity": self.name, "matched": self.matched, "how": self.how, "weight": round(self.weight, 4)}


class EntityLinker:
    """Finds the entities of a :class:`GraphIndex` that a query names.

    Longest n-grams are matched first and matches do not overlap. A capitalised span of
    the query that matches nothing exactly is matched fuzzily (rapidfuzz ratio ≥
    ``fuzzy_threshold``). ``dense`` (query → entity similarities) adds entities whose
    names are semantically close (cosine ≥ ``dense_threshold``). Given ``visible`` (a
    bool per node, :meth:`GraphIndex.visible_nodes`), only visible entities are matched,
    so a longer name that only hidden chunks use does not hide the shorter visible ones,
    and seed weights count visible chunks only.
    """

    def __init__(self, index: GraphIndex, fuzzy_threshold: float = 90.0, dense_threshold: float = 0.8,
                 max_seeds: int = 8):
        self.index = index
        self.fuzzy_threshold = fuzzy_threshold
        self.dense_threshold = dense_threshold
        self.max_seeds = max_seeds
        self._choices: list[str] | None = None

    def link(self, query: str, embed: Callable[[list[str]], np.ndarray] | None = None,
             visible: np.ndarray | None = None) -> list[Seed]:
        """Seeds for ``query``, best first; ``embed`` (spans → unit vectors) enables dense
        linking of spans that match no name exactly or fuzzily; ``visible`` restricts
        the entities to those a filtered search may see."""
        idx = self.index
        df, chunk_count = idx.document_frequency(visible)

        def weight(node: int, text: str) -> float:
            """Inverse document frequency, boosted for names written with capitals."""
            idf = math.log(1 + chunk_count / max(1.0, df[node]))
            return idf * (1.5 if any(_capitalised(w) for w in text.split()) else 1.0)

        words = [(m.group(), m.start(), m.end()) for m in _WORD.finditer(query)]
        used = [False] * len(words)
        seeds: dict[int, Seed] = {}
        for size in range(min(_MAX_NGRAM, len(words)), 0, -1):
            for start in range(0, len(words) - size + 1):
                if any(used[start : start + size]):
                    continue
                text = query[words[start][1] : words[start + size - 1][2]]
                key = entity_key(text)
                node = idx.entity_keys.get(key)
                if node is None or not _linkable(key, text) or (visible is not None and not visible[node]):
                    continue
                name = idx.name(node)
                how = "exact" if entity_key(name) == key and name.lower() == text.lower() else "alias"
                seeds.setdefault(node, Seed(node, name, text, how, weight(node, text)))
                used[start : start + size] = [True] * size
        unmatched = []
        for span in _capitalised_spans(query, words, used):
            match = self._fuzzy(entity_key(span), visible)
            if match is None:
                unmatched.append(span)
                continue
            node, score = match
            if node not in seeds:
                seeds[node] = Seed(node, idx.name(node), span, "fuzzy", weight(node, span) * score / 100)
        if embed is not None and unmatched and idx.entity_matrix is not None:
            nodes, sims = idx.nearest_entities(embed([entity_key(s) for s in unmatched]), visible)
            for span, node, sim in zip(unmatched, nodes.tolist(), sims.tolist()):
                if node >= 0 and sim >= self.dense_threshold and node not in seeds:
                    seeds[node] = Seed(node, idx.name(node), span, "dense", weight(node, span) * sim)
        ranked = sorted(seeds.values(), key=lambda s: (-s.weight, s.name))
        return ranked[: self.max_seeds]

    def _fuzzy(self, key: str, visible: np.ndarray | None) -> tuple[int, float] | None:
        """The (visible) entity whose key is most like ``key``: the first of the best."""
        if len(key) < 4:
            return None
        from rapidfuzz import fuzz, process

        if self._choices is None:
            self._choices = list(self.index.entity_keys)
        best: tuple[int, float] | None = None
        for choice, score, _ in process.extract_iter(key, self._choices, scorer=fuzz.ratio,
                                                     score_cutoff=self.fuzzy_threshold):
            node = self.index.entity_keys[choice]
            if (visible is None or visible[node]) and (best is None or score > best[1]):
                best = (node, float(score))
        return best


def _linkable(key: str, text: str) -> bool:
    """Numbers and single lowercase words make poor seeds ("1945", "held", "film"): a
    single word links only when the query writes it as a name."""
    if not key or key.isdigit() or key in _COMMON:
        return False
    if " " not in key:
        return len(key) > 1 and _capitalised(text.split()[-1])
    return True


def _capitalised_spans(query: str, words: list, used: list[bool]) -> list[str]:
    spans, current = [], []
    for i, (word, _, _) in enumerate(words):
        if not used[i] and _capitalised(word) and not (i == 0 and word.lower() in _COMMON):
            current.append(i)
        else:
            if current:
                spans.append(current)
            current = []
    if current:
        spans.append(current)
    return [query[words[s[0]][1] : words[s[-1]][2]] for s in spans]
