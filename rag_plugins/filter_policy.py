"""Tenancy as a policy: a pinned filter that every search runs under and that a caller can
only narrow, and the rule for what a caller's own filter may contain.

The filter a search runs with is ``{"$and": [pinned, caller]}``: whatever the caller sends,
only chunks that pass the pinned filter can come back. Filters that come from a model
(agent tools, the MCP server) are equality only unless the deployment allows operators,
and a filter that is not a non-empty mapping is an error rather than "no filter".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from rag_plugins.errors import InvalidFilterError, UnknownFilterFieldError
from rag_plugins.filters import MAX_FILTER_DEPTH, check_filters


def narrow(pinned: Mapping[str, Any] | None, filters: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The filter that passes only what both pass (None is no filter).

    >>> narrow({"tenant": "A"}, {"year": 2024})
    {'$and': [{'tenant': 'A'}, {'year': 2024}]}
    >>> narrow({"tenant": "A"}, None)
    {'tenant': 'A'}
    """
    if pinned is None:
        return filters
    if filters is None:
        return pinned
    return {"$and": [pinned, filters]}


@dataclass(frozen=True)
class FilterPolicy:
    """What a caller's filter may do, and the filter it cannot widen.

    ``pinned`` applies to every search (checked, and copied so later changes to the
    caller's dict change nothing); ``allow_operators`` lets caller filters use ``$``
    operators (``$ne``, ``$gt``, ``$or``, ...), which model-written filters may not by
    default; filters nesting deeper than ``max_depth`` are refused.

    >>> policy = FilterPolicy({"tenant": "A"})
    >>> policy.apply({"tenant": "B"})
    {'$and': [{'tenant': 'A'}, {'tenant': 'B'}]}
    >>> policy.apply(None)
    {'tenant': 'A'}
    >>> policy.apply({"tenant": {"$ne": "A"}})
    Traceback (most recent call last):
    ...
    rag_plugins.errors.InvalidFilterError: the filter operator '$ne' is not allowed here; send equality filters like {"field": value}, or omit filters
    """

    pinned: Mapping[str, Any] | None = None
    allow_operators: bool = False
    max_depth: int = field(default=MAX_FILTER_DEPTH, repr=False)

    def __post_init__(self) -> None:
        if self.pinned is not None:
            check_filters(self.pinned, max_depth=self.max_depth)
            try:
                frozen = json.loads(json.dumps(self.pinned))
            except (TypeError, ValueError) as exc:
                raise InvalidFilterError(f"a pinned filter must be plain JSON data: {exc}") from exc
            object.__setattr__(self, "pinned", frozen)

    def apply(self, filters: Any) -> Mapping[str, Any] | None:
        """The filter to search with for a caller who sent ``filters`` (None: none)."""
        return narrow(self.pinned, check_filters(filters, operators=self.allow_operators, max_depth=self.max_depth))

    def restricted(self, pinned: Mapping[str, Any] | None = None,
                   allow_operators: bool | None = None) -> "FilterPolicy":
        """This policy with ``pinned`` pinned as well (both apply) and, unless None,
        ``allow_operators`` replaced."""
        return FilterPolicy(narrow(self.pinned, check_filters(pinned, max_depth=self.max_depth)),
                            self.allow_operators if allow_operators is None else allow_operators, self.max_depth)

    def redact(self, error: UnknownFilterFieldError) -> UnknownFilterFieldError:
        """Under a pinned filter, an unknown-field error that does not list the fields of
        every tenant's chunks."""
        if self.pinned is None:
            return error
        return UnknownFilterFieldError(f"no chunk you can search has the metadata field {error.field!r}; "
                                       "check the spelling, or omit filters", field=error.field)
