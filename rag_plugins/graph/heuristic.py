"""The default extractor: no LLM, no model download.

Entities are the document title, capitalised spans ("Chief of Protocol", "Kiss and
Tell"), quoted names and short noun phrases. Relations are co-occurrence within a
sentence (between named entities) and "the chunk's title entity mentions X". Name fragments ("Shirley Temple"
inside "Shirley Temple Black") are kept as candidates; the graph links them when some
document carries that title, which is how "paragraph A mentions the title of paragraph
B" becomes an edge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from rag_plugins.graph.extraction import Extraction, Mention, Relation, _title
from rag_plugins.graph.names import entity_key
from rag_plugins.text.analysis import ENGLISH_STOPWORDS
from rag_plugins.types import Chunk

_TOKEN = re.compile(r"\w+(?:[’'.\-&]\w+)*\.?", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”)]?\s+(?=[\"“(]?[A-Z0-9])")
_QUOTED = re.compile(r"[\"“]([^\"“”]{2,80})[\"”]")

_CONNECTORS = frozenset("of the and de du da del della di van von der den la le y for & on".split())
_SPLITTERS = frozenset({"and", "&"})
_COMMON = ENGLISH_STOPWORDS | frozenset(
    """he she his her him hers they them their we our you your i me my its it's also after before
    during although however when while since from both each many most some other following
    according despite because here what which who whom whose where how why one two three four
    five this that these those there several all any every another about above
    below between over under until upon within without first second third new later early
    january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday""".split()
)


@dataclass
class HeuristicExtractor:
    """Entities and relations from text alone.

    >>> from rag_plugins.types import Chunk
    >>> chunk = Chunk("k#0", "k", "Kiss and Tell is a 1945 film starring Shirley Temple as Corliss Archer.",
    ...               0, {"title": "Kiss and Tell (1945 film)"})
    >>> ex = HeuristicExtractor().extract([chunk])[0]
    >>> sorted(m.key for m in ex.mentions if m.weight == 1.0)
    ['corliss archer', 'kiss and tell', 'shirley temple']
    >>> sorted((r.subject, r.object) for r in ex.relations if r.label == "co-occurs")[:2]
    [('corliss archer', 'kiss and tell'), ('corliss archer', 'shirley temple')]
    """

    noun_phrases: bool = True
    noun_phrase_weight: float = 0.5
    title_relation_weight: float = 0.5
    max_mentions_per_sentence: int = 16
    name: str = "heuristic"

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "noun_phrases": self.noun_phrases,
                "noun_phrase_weight": self.noun_phrase_weight,
                "title_relation_weight": self.title_relation_weight,
                "max_mentions_per_sentence": self.max_mentions_per_sentence}

    def extract(self, chunks: Sequence[Chunk]) -> list[Extraction]:
        return [self._extract(chunk) for chunk in chunks]

    def _extract(self, chunk: Chunk) -> Extraction:
        mentions: dict[str, Mention] = {}
        relations: dict[tuple[str, str, str], float] = {}
        candidates: set[str] = set()
        title = _title(chunk)
        title_key = entity_key(title) if title else ""
        if title_key:
            mentions[title_key] = Mention(title_key, title, 1.0, True)
        named: set[str] = set()
        for sentence in _SENTENCE_END.split(chunk.text):
            found = self._sentence_mentions(sentence, candidates)
            keys = []
            for key, name, weight in found:
                if key not in mentions or mentions[key].weight < weight and not mentions[key].title:
                    mentions[key] = Mention(key, name, weight, key == title_key)
                if weight >= 1.0:
                    named.add(key)
                    if key not in keys:
                        keys.append(key)
            keys = keys[: self.max_mentions_per_sentence]
            if len(keys) > 1:
                share = 1.0 / (len(keys) - 1)
                for i, a in enumerate(keys):
                    for b in keys[i + 1 :]:
                        s, o = sorted((a, b))
                        relations[(s, "co-occurs", o)] = relations.get((s, "co-occurs", o), 0.0) + share
        if title_key:
            for key in sorted(named - {title_key}):
                relations[(title_key, "mentions", key)] = self.title_relation_weight
        candidates -= set(mentions)
        return Extraction(
            chunk.id,
            tuple(sorted(mentions.values(), key=lambda m: m.key)),
            tuple(Relation(s, label, o, w) for (s, label, o), w in sorted(relations.items())),
            tuple(sorted(candidates)),
        )

    def _sentence_mentions(self, sentence: str, candidates: set[str]) -> list[tuple[str, str, float]]:
        out: list[tuple[str, str, float]] = []
        for quoted in _QUOTED.findall(sentence):
            key = entity_key(quoted)
            if key and len(key.split()) <= 8:
                out.append((key, quoted.strip(), 1.0))
        tokens = [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(sentence)]
        span: list[int] = []

        def close() -> None:
            while span and tokens[span[-1]][0].lower() in _CONNECTORS:
                span.pop()
            if span:
                self._add_span(sentence, tokens, span, out, candidates)
            span.clear()

        run: list[int] = []
        for i, (word, start, _) in enumerate(tokens):
            adjacent = i > 0 and sentence[tokens[i - 1][2] : start].strip() == ""
            if span and not adjacent:
                close()
            if _capitalised(word) and not (i == 0 and word.lower().rstrip(".") in _COMMON) \
                    and word.lower().rstrip(".") not in _COMMON - _CONNECTORS:
                span.append(i)
            elif span and word.lower() in _CONNECTORS:
                span.append(i)
            else:
                close()
            if self.noun_phrases:
                if _content_word(word) and (not run or adjacent):
                    run.append(i)
                else:
                    self._add_phrase(tokens, run, out)
                    run = [i] if _content_word(word) else []
        close()
        if self.noun_phrases:
            self._add_phrase(tokens, run, out)
        return out

    def _add_span(self, sentence: str, tokens: list, span: list[int], out: list, candidates: set[str]) -> None:
        words = [tokens[i][0] for i in span]
        name = sentence[tokens[span[0]][1] : tokens[span[-1]][2]].rstrip(".")
        key = entity_key(name)
        if not key or key.isdigit():
            return
        out.append((key, name, 1.0))
        if any(w.lower() in _SPLITTERS for w in words):
            part: list[int] = []
            for i in span + [None]:
                if i is None or tokens[i][0].lower() in _SPLITTERS:
                    if part:
                        piece = sentence[tokens[part[0]][1] : tokens[part[-1]][2]].rstrip(".")
                        if entity_key(piece):
                            candidates.add(entity_key(piece))
                    part = []
                else:
                    part.append(i)
        caps = [j for j, w in enumerate(words) if _capitalised(w)]
        for a in caps:
            for b in caps:
                if b > a and (a, b) != (caps[0], caps[-1]):
                    fragment = entity_key(" ".join(words[a : b + 1]))
                    if fragment:
                        candidates.add(fragment)

    def _add_phrase(self, tokens: list, run: list[int], out: list) -> None:
        if len(run) >= 2:
            words = [tokens[i][0] for i in run[-3:]]
            out.append((entity_key(" ".join(words)), " ".join(words), self.noun_phrase_weight))


def _capitalised(word: str) -> bool:
    return word[:1].isupper() or (word[:1].isdigit() and any(c.isupper() for c in word))


def _content_word(word: str) -> bool:
    lower = word.lower()
    return (word.isalpha() and word.islower() and len(word) > 2 and lower not in _COMMON
            and not lower.endswith("ly"))
