"""Metadata filters, evaluated to the set of chunk rows a query may see.

A filter is a mapping, MongoDB-style:

* ``{"source": "wiki"}``: equality (a list-valued field matches if it contains the value);
* ``{"year": {"$gte": 2020, "$lt": 2024}}``: operators ``$eq $ne $in $nin $gt $gte $lt $lte
  $exists``;
* ``{"$and": [...]}``, ``{"$or": [...]}``, ``{"$not": {...}}``.

Top-level keys are combined with AND. ``document_id`` and ``chunk_id`` are always
filterable. A field that no chunk has raises :class:`UnknownFilterFieldError`, because a
typo would otherwise silently return nothing.

``None`` is the only way to say "no filter": an empty mapping, ``[]``, ``""`` or ``0``
raise :class:`InvalidFilterError` (:func:`check_filters`), as does a filter nesting
dicts and lists more than :data:`MAX_FILTER_DEPTH` deep.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

import numpy as np

from rag_plugins._validation import check_texts_in
from rag_plugins.errors import InvalidFilterError, UnknownFilterFieldError

_OPERATORS = {"$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists"}
_MISSING = object()

MAX_FILTER_DEPTH = 32
"""How deep dicts and lists may nest in one filter (``{"$and": [{"a": 1}]}`` is 3 deep)."""


def check_filters(filters: Any, *, operators: bool = True,
                  max_depth: int = MAX_FILTER_DEPTH) -> Mapping[str, Any] | None:
    """``filters`` if it is a well-formed filter, None if it is None; anything else raises
    :class:`InvalidFilterError` saying what to send. With ``operators=False`` only equality
    is accepted (``{"field": value}``): no ``$`` key anywhere. Field names are checked
    later, against the index.

    The walk is iterative, so no nesting can exhaust the interpreter's stack.

    >>> check_filters({"tenant": "A"})
    {'tenant': 'A'}
    >>> check_filters([])
    Traceback (most recent call last):
    ...
    rag_plugins.errors.InvalidFilterError: filters must be a mapping like {'field': value}, got list; pass None (or omit filters) to search everything
    >>> check_filters({"tenant": {"$ne": "A"}}, operators=False)
    Traceback (most recent call last):
    ...
    rag_plugins.errors.InvalidFilterError: the filter operator '$ne' is not allowed here; send equality filters like {"field": value}, or omit filters
    """
    if filters is None:
        return None
    stack: list[tuple[Any, int, bool]] = [(filters, 1, True)]  # (value, depth, is a filter clause)
    while stack:
        value, depth, clause = stack.pop()
        if depth > max_depth and (clause or isinstance(value, (Mapping, list, tuple))):
            raise InvalidFilterError(f"filters nest dicts and lists more than {max_depth} deep; flatten them "
                                     "(e.g. one $and of equality clauses)")
        if clause:
            _check_clause(value, operators)
            for key, condition in value.items():
                if key in ("$and", "$or"):
                    stack.extend((c, depth + 2, True) for c in condition)
                else:
                    stack.append((condition, depth + 1, key == "$not"))
        elif isinstance(value, Mapping):
            for key, item in value.items():
                if isinstance(key, str) and key.startswith("$") and not operators:
                    raise _operator_refused(key)
                stack.append((item, depth + 1, False))
        elif isinstance(value, (list, tuple)):
            stack.extend((item, depth + 1, False) for item in value)
    check_texts_in(filters, "filters", InvalidFilterError)
    return filters


def _check_clause(value: Any, operators: bool) -> None:
    if not isinstance(value, Mapping):
        raise InvalidFilterError(f"filters must be a mapping like {{'field': value}}, got {type(value).__name__}; "
                                 "pass None (or omit filters) to search everything")
    if not value:
        raise InvalidFilterError("filters is an empty mapping; name at least one field, or pass None "
                                 "(omit filters) to search everything")
    for key, condition in value.items():
        if not isinstance(key, str):
            raise InvalidFilterError(f"filter field names are strings, got {key!r}")
        if key.startswith("$") and not operators:
            raise _operator_refused(key)
        if key in ("$and", "$or") and (not isinstance(condition, list) or not condition):
            raise InvalidFilterError(f"{key} takes a non-empty list of filters")


def _operator_refused(op: str) -> InvalidFilterError:
    return InvalidFilterError(f"the filter operator {op!r} is not allowed here; send equality filters like "
                              '{"field": value}, or omit filters')


def _key(value: Any) -> Any:
    """A hashable key for equality lookups (lists and dicts by their JSON text)."""
    if isinstance(value, (list, dict)):
        return ("json", json.dumps(value, sort_keys=True))
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return float(value)
    return value


class MetadataIndex:
    """Chunk metadata in columns, for evaluating filters to a boolean mask.

    Rows are positions ``0..n-1``; the caller keeps the map to its own ids.

    >>> idx = MetadataIndex([{"lang": "en"}, {"lang": "de"}, {"lang": ["en", "fr"]}])
    >>> idx.mask({"lang": "en"}).tolist()
    [True, False, True]
    """

    def __init__(self, metadatas: Sequence[Mapping[str, Any]]):
        self.size = len(metadatas)
        self._values: dict[str, list[Any]] = {}
        self._postings: dict[str, dict[Any, list[int]]] = {}
        for row, meta in enumerate(metadatas):
            for name, value in meta.items():
                column = self._values.get(name)
                if column is None:
                    column = self._values[name] = [_MISSING] * self.size
                    self._postings[name] = {}
                column[row] = value
                postings = self._postings[name]
                elements = value if isinstance(value, list) else [value]
                for element in elements:
                    try:
                        postings.setdefault(_key(element), []).append(row)
                    except TypeError:
                        continue

    @property
    def fields(self) -> set[str]:
        return set(self._values)

    def mask(self, filters: Mapping[str, Any]) -> np.ndarray:
        if filters is None:
            raise InvalidFilterError("mask needs a filter; None means no filter, so every row passes")
        return self._mask(check_filters(filters))

    def _mask(self, filters: Mapping[str, Any]) -> np.ndarray:
        result = np.ones(self.size, dtype=bool)
        for name, condition in filters.items():
            result &= self._clause(name, condition)
        return result

    def _clause(self, name: str, condition: Any) -> np.ndarray:
        if name in ("$and", "$or"):
            masks = [self._mask(c) for c in condition]
            return np.logical_and.reduce(masks) if name == "$and" else np.logical_or.reduce(masks)
        if name == "$not":
            return ~self._mask(condition)
        if name.startswith("$"):
            raise InvalidFilterError(
                f"unknown logical operator {name!r}; use $and, $or or $not at the top level"
            )
        if name not in self._values:
            known = ", ".join(sorted(self._values)) or "(none)"
            raise UnknownFilterFieldError(
                f"no chunk has the metadata field {name!r}; filterable fields are: {known}. "
                "Check the spelling, or add the field to your documents' metadata.",
                field=name,
            )
        if isinstance(condition, Mapping) and any(str(k).startswith("$") for k in condition):
            out = np.ones(self.size, dtype=bool)
            for op, operand in condition.items():
                out &= self._operator(name, op, operand)
            return out
        return self._equals(name, condition)

    def _equals(self, name: str, value: Any) -> np.ndarray:
        out = np.zeros(self.size, dtype=bool)
        try:
            rows = self._postings[name].get(_key(value))
        except TypeError as exc:
            raise InvalidFilterError(f"filter value for {name!r} is not comparable: {value!r}") from exc
        if rows:
            out[rows] = True
        return out

    def _operator(self, name: str, op: str, operand: Any) -> np.ndarray:
        if op not in _OPERATORS:
            raise InvalidFilterError(
                f"unknown filter operator {op!r} on {name!r}; use one of {sorted(_OPERATORS)}"
            )
        if op == "$eq":
            return self._equals(name, operand)
        if op == "$ne":
            return ~self._equals(name, operand)
        if op in ("$in", "$nin"):
            if not isinstance(operand, (list, tuple, set)):
                raise InvalidFilterError(f"{op} on {name!r} takes a list of values, got {operand!r}")
            out = np.zeros(self.size, dtype=bool)
            for value in operand:
                out |= self._equals(name, value)
            return out if op == "$in" else ~out
        if op == "$exists":
            present = np.array([v is not _MISSING for v in self._values[name]], dtype=bool)
            return present if operand else ~present
        return self._compare(name, op, operand)

    def _compare(self, name: str, op: str, operand: Any) -> np.ndarray:
        numeric = isinstance(operand, (int, float)) and not isinstance(operand, bool)
        if not numeric and not isinstance(operand, str):
            raise InvalidFilterError(f"{op} on {name!r} needs a number or a string, got {operand!r}")
        compare = {
            "$gt": lambda a: a > operand,
            "$gte": lambda a: a >= operand,
            "$lt": lambda a: a < operand,
            "$lte": lambda a: a <= operand,
        }[op]

        def ok(value: Any) -> bool:
            if value is _MISSING or isinstance(value, bool):
                return False
            if numeric and isinstance(value, (int, float)):
                return compare(value)
            if not numeric and isinstance(value, str):
                return compare(value)
            return False

        return np.fromiter((ok(v) for v in self._values[name]), dtype=bool, count=self.size)


def builtin_metadata(chunk_id: str, document_id: str, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The filterable view of a chunk: its metadata plus ``document_id`` and ``chunk_id``."""
    view = dict(metadata)
    view["document_id"] = document_id
    view["chunk_id"] = chunk_id
    return view

