"""One generation per search: the thread-local pin that keeps a search combining several
retrievers on the snapshot each knowledge base handed out first.

It lives below both the store and the retrievers, so that retrievers can open a search
scope without importing the store (the store knows no retriever, and no retriever needs
the store's package to search).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator, TypeVar

T = TypeVar("T")

_scope = threading.local()
_collected: ContextVar[set | None] = ContextVar("rag_plugins_generations_collected", default=None)


@contextmanager
def one_generation_per_search() -> Iterator[None]:
    """Within this block (per thread), every knowledge base hands out the snapshot it
    handed out first, so a search combining several retrievers (hybrid, graph+hybrid,
    routed) reads one generation even when a newer one lands meanwhile. Re-entrant."""
    outer = getattr(_scope, "pins", None)
    if outer is None:
        _scope.pins = {}
    try:
        yield
    finally:
        if outer is None:
            _scope.pins = None


@contextmanager
def reading(owner: object, snapshot: object) -> Iterator[None]:
    """Within this block (per thread), ``owner`` hands out ``snapshot`` to every search,
    whatever it would read otherwise: how a candidate generation (a re-index not yet
    switched to, a commit not yet published) is searched before anyone else sees it."""
    with one_generation_per_search():
        pins = _scope.pins
        had, before = id(owner) in pins, pins.get(id(owner))
        pins[id(owner)] = snapshot
        try:
            yield
        finally:
            if had:
                pins[id(owner)] = before
            else:
                pins.pop(id(owner), None)


def pinned(owner: object, current: T) -> T:
    """The snapshot ``owner`` pinned in this thread's search, pinning ``current`` if none."""
    pins = getattr(_scope, "pins", None)
    snapshot = current if pins is None else pins.setdefault(id(owner), current)
    found = _collected.get()
    if found is not None and getattr(snapshot, "generation", None) is not None:
        found.add(snapshot.generation)
    return snapshot


def pinned_now(owner: object) -> object | None:
    """The snapshot ``owner`` pinned in this thread's search, or None (no search, or none
    pinned yet): lets a hot path skip looking up the current snapshot."""
    pins = getattr(_scope, "pins", None)
    return None if pins is None else pins.get(id(owner))


@contextmanager
def collecting_generations() -> Iterator[set[int]]:
    """Within this block, the generation of every snapshot a search reads is added to the
    set it yields; it follows the context into ``asyncio.to_thread`` (the async retrievers),
    so an iterative run learns which generations its answer came from however it searched."""
    found: set[int] = set()
    token = _collected.set(found)
    try:
        yield found
    finally:
        _collected.reset(token)


def generations_read() -> tuple[int, ...]:
    """The generations this thread's current search has pinned so far, one per knowledge
    base it read (empty outside a search scope)."""
    pins = getattr(_scope, "pins", None) or {}
    return tuple(sorted({g for g in (getattr(s, "generation", None) for s in pins.values()) if g is not None}))
