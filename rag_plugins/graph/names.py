"""Entity names: the normalised key that merges surface forms, and readable display names."""

from __future__ import annotations

import re
import unicodedata

_PARENTHETICAL = re.compile(r"\s*\([^()]*\)\s*$")
_NON_WORD = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")
_LEADING_ARTICLE = re.compile(r"^(the|a|an)\s+")
_POSSESSIVE = re.compile(r"['’]s\b")


def entity_key(name: str) -> str:
    """The key that merges surface forms of one entity: accents folded, case dropped,
    a trailing disambiguation in parentheses, a leading article, possessives and
    punctuation removed.

    >>> entity_key("Kiss and Tell (1945 film)"), entity_key("the U.S. Navy's"), entity_key("Café")
    ('kiss and tell', 'us navy', 'cafe')
    """
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = _PARENTHETICAL.sub("", text)
    text = _POSSESSIVE.sub("", text)
    text = _NON_WORD.sub(lambda m: "" if m.group() == "." else " ", text)
    text = _SPACES.sub(" ", text).strip()
    return _LEADING_ARTICLE.sub("", text)


def preferred_name(forms: dict[str, int], titles: dict[str, int]) -> str:
    """The display name of an entity: a document title that names it, else its most
    frequent surface form (ties broken alphabetically, so the choice is deterministic)."""
    pool = titles or forms
    return min(pool, key=lambda form: (-pool[form], form))
