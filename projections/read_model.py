"""What every read model provides to the projection runner."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from domain.incident import Incident

Cursor = Any  # a DB-API cursor of the event-store database


class ReadModel(Protocol):
    """A projection: a pure function of the incident events it is given."""

    name: str
    # The stored-event topics it reads; the runner skips every other event.
    topics: tuple[str, ...]
    tables: tuple[str, ...]

    def create_tables(self, c: Cursor) -> None:
        """Create this read model's tables if they do not exist."""

    def process(self, c: Cursor, events: Sequence[Incident.Event]) -> None:
        """Fold a batch of events, in notification order, into the tables.

        A read model with heavy computing may also have ``prepare(read, events)``: the runner
        calls it first, in a read-only transaction, with the same events; ``process`` then
        only writes what it prepared (see ``projections.runner``).
        """


def event_topics(*classes: type[Incident.Event]) -> tuple[str, ...]:
    """The stored topics of these event classes (their explicit TOPIC)."""
    return tuple(str(getattr(cls, "TOPIC")) for cls in classes)
