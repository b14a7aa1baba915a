"""Argument checks shared by every retriever, raising typed errors that say what to do."""

from __future__ import annotations

import math
import numbers
from typing import Any, Mapping

from rag_plugins.errors import InvalidInputError, InvalidQueryError


def check_query(query: Any) -> str:
    if not isinstance(query, str):
        raise InvalidQueryError(
            f"query must be a str, got {type(query).__name__}; pass the question as text"
        )
    if not query.strip():
        raise InvalidQueryError("query is empty or whitespace; pass a non-empty question")
    return check_text(query, "query", InvalidQueryError)


def check_text(value: str, what: str, error: type[InvalidInputError] = InvalidInputError) -> str:
    r"""``value`` if it is valid Unicode text (encodable as UTF-8), else ``error`` naming
    ``what`` and the position. Lone surrogates are what ``errors="surrogateescape"``
    decoding or a broken JSON ``\ud8xx`` escape leave behind.

    >>> check_text("caf\u00e9", "query")
    'café'
    >>> check_text("caf\udce9", "query")
    Traceback (most recent call last):
    ...
    rag_plugins.errors.InvalidInputError: query has a lone surrogate '\udce9' at position 3, which is not valid Unicode text and cannot be stored or embedded; decode the source bytes as UTF-8 with errors="replace" (or fix the text)
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise error(
            f"{what} has a lone surrogate {value[exc.start]!r} at position {exc.start}, which is not valid "
            'Unicode text and cannot be stored or embedded; decode the source bytes as UTF-8 with errors="replace" '
            "(or fix the text)"
        ) from None
    return value


def check_texts_in(value: Any, what: str, error: type[InvalidInputError] = InvalidInputError) -> None:
    r""":func:`check_text` on every str in ``value``: mapping keys and values and list
    items at any depth (the walk is iterative, so nesting cannot exhaust the stack).

    >>> check_texts_in({"tags": ["ok", "bad\udc80"]}, "metadata")
    Traceback (most recent call last):
    ...
    rag_plugins.errors.InvalidInputError: metadata['tags'][1] has a lone surrogate '\udc80' at position 3, which is not valid Unicode text and cannot be stored or embedded; decode the source bytes as UTF-8 with errors="replace" (or fix the text)
    """
    stack: list[tuple[Any, str]] = [(value, what)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            check_text(item, where, error)
        elif isinstance(item, Mapping):
            for key, child in item.items():
                if isinstance(key, str):
                    check_text(key, f"a key of {where}", error)
                stack.append((child, f"{where}[{key!r}]"))
        elif isinstance(item, (list, tuple)):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))


def check_k(k: Any, name: str = "k") -> int:
    """``k`` as a plain int: any integral number is accepted (numpy's too), never a bool
    or a float.

    >>> import numpy as np
    >>> check_k(np.int64(5))
    5
    """
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise InvalidInputError(f"{name} must be an int, got {k!r}")
    k = int(k)
    if k <= 0:
        raise InvalidInputError(f"{name} must be greater than 0, got {k}; ask for at least one hit")
    return k


def check_count(value: Any, name: str, minimum: int = 1) -> int:
    """A count (a depth, a batch size, a number of rounds) as a plain int ``>= minimum``.

    >>> check_count(3, "batch_size")
    3
    >>> check_count(0, "batch_size")
    Traceback (most recent call last):
    ...
    rag_plugins.errors.InvalidInputError: batch_size must be an integer >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InvalidInputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_number(value: Any, name: str, low: float | None = None, high: float | None = None, *,
                 low_open: bool = False, high_open: bool = False) -> float:
    """A finite number within ``[low, high]`` (``low_open``/``high_open`` exclude an end).

    >>> check_number(0.7, "damping", 0, 1, low_open=True, high_open=True)
    0.7
    >>> check_number(1, "damping", 0, 1, low_open=True, high_open=True)
    Traceback (most recent call last):
    ...
    rag_plugins.errors.InvalidInputError: damping must be in (0, 1), got 1
    """
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        if low is not None and high is not None:
            where = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        elif low is not None:
            where = f"{'>' if low_open else '>='} {low:g}"
        elif high is not None:
            where = f"{'<' if high_open else '<='} {high:g}"
        else:
            where = "a finite number"
        raise InvalidInputError(f"{name} must be {where}, got {value!r}")
    return float(value)


def check_weight(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInputError(f"{name} must be a finite number, got {value!r}")
    if value < 0:
        raise InvalidInputError(f"{name} must be >= 0, got {value}")
    return float(value)
