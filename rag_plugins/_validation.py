"""Argument checks shared by every retriever, raising typed errors that say what to do."""

from __future__ import annotations

import math
from typing import Any

from rag_plugins.errors import InvalidInputError, InvalidQueryError


def check_query(query: Any) -> str:
    if not isinstance(query, str):
        raise InvalidQueryError(
            f"query must be a str, got {type(query).__name__}; pass the question as text"
        )
    if not query.strip():
        raise InvalidQueryError("query is empty or whitespace; pass a non-empty question")
    return query


def check_k(k: Any, name: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, int):
        raise InvalidInputError(f"{name} must be an int, got {k!r}")
    if k <= 0:
        raise InvalidInputError(f"{name} must be greater than 0, got {k}; ask for at least one hit")
    return k


def check_weight(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInputError(f"{name} must be a finite number, got {value!r}")
    if value < 0:
        raise InvalidInputError(f"{name} must be >= 0, got {value}")
    return float(value)
