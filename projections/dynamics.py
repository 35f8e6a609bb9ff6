"""Incident dynamics: incidents received per month."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from domain.incident import Incident
from projections.month import month_of
from projections.read_model import Cursor, event_topics


class Dynamics:
    """Counts incidents by the month Customer Service received them, per department."""

    name = "dynamics"
    topics: tuple[str, ...] = event_topics(Incident.Received)
    tables: tuple[str, ...] = ("dynamics",)

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone

    def create_tables(self, c: Cursor) -> None:
        c.execute(
            "CREATE TABLE IF NOT EXISTS dynamics (month TEXT NOT NULL, department TEXT NOT NULL,"
            " incidents INTEGER NOT NULL, PRIMARY KEY (month, department))"
        )

    def process(self, c: Cursor, events: Sequence[Incident.Event]) -> None:
        counts = Counter(
            (month_of(e.occurred_at, self.zone), e.department)
            for e in events
            if isinstance(e, Incident.Received)
        )
        c.executemany(
            "INSERT INTO dynamics VALUES (?, ?, ?) ON CONFLICT (month, department)"
            " DO UPDATE SET incidents = dynamics.incidents + excluded.incidents",
            [(*key, n) for key, n in counts.items()],
        )
