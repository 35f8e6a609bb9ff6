"""Share of thanks: thanked / contacts (received + thanked) per month."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from domain.incident import Incident
from projections.month import month_of
from projections.read_model import Cursor, event_topics


class ThanksShare:
    """Counts received incidents and thanks per month."""

    name = "thanks_share"
    topics: tuple[str, ...] = event_topics(Incident.Received, Incident.Thanked, Incident.ThankedStandalone)
    tables: tuple[str, ...] = ("thanks_share",)

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone

    def create_tables(self, c: Cursor) -> None:
        c.execute(
            "CREATE TABLE IF NOT EXISTS thanks_share (month TEXT PRIMARY KEY,"
            " received INTEGER NOT NULL, thanked INTEGER NOT NULL)"
        )

    def process(self, c: Cursor, events: Sequence[Incident.Event]) -> None:
        received: Counter[str] = Counter()
        thanked: Counter[str] = Counter()
        for e in events:
            if isinstance(e, Incident.Received):
                received[month_of(e.occurred_at, self.zone)] += 1
            elif isinstance(e, (Incident.Thanked, Incident.ThankedStandalone)):
                thanked[month_of(e.occurred_at, self.zone)] += 1
        c.executemany(
            "INSERT INTO thanks_share VALUES (?, ?, ?) ON CONFLICT (month) DO UPDATE SET"
            " received = thanks_share.received + excluded.received,"
            " thanked = thanks_share.thanked + excluded.thanked",
            [(m, received[m], thanked[m]) for m in sorted(received.keys() | thanked.keys())],
        )
