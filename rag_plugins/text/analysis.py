"""Text analysis for lexical retrieval: normalise, tokenise, drop stopwords, stem."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

# Lucene's classic English stop set (also bm25s's "en" list).
ENGLISH_STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the "
    "their then there these they this to was will with".split()
)


@dataclass
class Analyzer:
    """Lowercase, Unicode-normalise (NFKC), split on word characters, drop stopwords, stem.

    Stemming uses PyStemmer's Snowball stemmers (a core dependency).

    >>> Analyzer().tokenize("The Running dogs, running!")
    ['run', 'dog', 'run']
    """

    language: str = "english"
    stopwords: frozenset[str] = field(default=ENGLISH_STOPWORDS)
    stem: bool = True
    token_pattern: str = r"(?u)\b\w\w+\b"
    unicode_form: str = "NFKC"

    def __post_init__(self) -> None:
        self._split = re.compile(self.token_pattern).findall
        self._stemmer = None
        if self.stem:
            import Stemmer  # PyStemmer, a core dependency

            self._stemmer = Stemmer.Stemmer(self.language)
        self._stem_cache: dict[str, str] = {}

    def tokenize(self, text: str) -> list[str]:
        text = unicodedata.normalize(self.unicode_form, text).lower()
        words = [w for w in self._split(text) if w not in self.stopwords]
        if self._stemmer is None:
            return words
        cache = self._stem_cache
        out = []
        for w in words:
            s = cache.get(w)
            if s is None:
                s = cache[w] = self._stemmer.stemWord(w)
            out.append(s)
        return out

    def config(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "stopwords": sorted(self.stopwords),
            "stem": self.stem,
            "token_pattern": self.token_pattern,
            "unicode_form": self.unicode_form,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Analyzer":
        return cls(
            language=config["language"],
            stopwords=frozenset(config["stopwords"]),
            stem=config["stem"],
            token_pattern=config["token_pattern"],
            unicode_form=config["unicode_form"],
        )
