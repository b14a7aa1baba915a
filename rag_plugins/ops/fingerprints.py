"""Stable fingerprints of a query and of a filter, so searches can be grouped and counted
without keeping what was asked."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping


def query_fingerprint(query: str) -> str:
    """The SHA-256 (hex, first 32 digits) of the query with case folded and whitespace
    collapsed: the same question typed twice hashes the same. A fingerprint, not
    encryption: a short query can be guessed by hashing candidates.

    >>> query_fingerprint("Pears  are sweet") == query_fingerprint("pears are SWEET")
    True
    """
    normal = " ".join(query.casefold().split())
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()[:32]


def filters_fingerprint(filters: Mapping[str, Any] | None) -> str:
    """``""`` for no filter, else a hash of the filter in canonical JSON (keys sorted).

    >>> filters_fingerprint(None), filters_fingerprint({"a": 1, "b": 2}) == filters_fingerprint({"b": 2, "a": 1})
    ('', True)
    """
    if not filters:
        return ""
    canonical = json.dumps(filters, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
