from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler


class EventCollector(BaseEventHandler):
    """Every instrumentation event sent while a test runs."""

    events: list = []

    @classmethod
    def class_name(cls) -> str:
        return "EventCollector"

    def handle(self, event: Any, **kwargs: Any) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
def instrumentation_events():
    """An :class:`EventCollector` on the root dispatcher for the test's duration (handlers
    are global, so it is removed afterwards)."""
    collector = EventCollector(events=[])
    get_dispatcher().add_event_handler(collector)
    yield collector
    get_dispatcher().event_handlers.remove(collector)
