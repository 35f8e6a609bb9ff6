"""Channel mix: contacts (received + thanked) per month × channel × department."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from domain.incident import Incident
from projections.month import month_of
from projections.read_model import Cursor, event_topics

UNKNOWN_DEPARTMENT = "unknown"


class ChannelMix:
    """Counts every contact by the month it reached Customer Service, its channel and department.

    A thanks without a department counts for the department of the incident it thanks
    for; the read model keeps a small directory of incidents' departments for that.
    """

    name = "channel_mix"
    topics: tuple[str, ...] = event_topics(Incident.Received, Incident.Thanked, Incident.ThankedStandalone)
    tables: tuple[str, ...] = ("channel_mix", "channel_mix_incidents")

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone

    def create_tables(self, c: Cursor) -> None:
        c.execute(
            "CREATE TABLE IF NOT EXISTS channel_mix (month TEXT NOT NULL, channel TEXT NOT NULL,"
            " department TEXT NOT NULL, contacts INTEGER NOT NULL,"
            " PRIMARY KEY (month, channel, department))"
        )
        c.execute(
            "CREATE TABLE IF NOT EXISTS channel_mix_incidents ("
            " incident_id TEXT PRIMARY KEY, department TEXT NOT NULL)"
        )

    def process(self, c: Cursor, events: Sequence[Incident.Event]) -> None:
        departments = self._departments_of_thanked(c, events)
        counts: Counter[tuple[str, str, str]] = Counter()
        new_incidents = []
        for e in events:
            month = month_of(e.occurred_at, self.zone)
            if isinstance(e, Incident.Received):
                counts[(month, e.channel, e.department)] += 1
                new_incidents.append((e.originator_id, e.department))
                departments[e.originator_id] = e.department
            elif isinstance(e, (Incident.Thanked, Incident.ThankedStandalone)):
                department = e.department or departments.get(e.originator_id, UNKNOWN_DEPARTMENT)
                counts[(month, e.channel, department)] += 1
        c.executemany(
            "INSERT INTO channel_mix_incidents VALUES (?, ?) ON CONFLICT DO NOTHING",
            new_incidents,
        )
        c.executemany(
            "INSERT INTO channel_mix VALUES (?, ?, ?, ?) ON CONFLICT (month, channel, department)"
            " DO UPDATE SET contacts = channel_mix.contacts + excluded.contacts",
            [(*key, n) for key, n in counts.items()],
        )

    def _departments_of_thanked(
        self, c: Cursor, events: Sequence[Incident.Event]
    ) -> dict[str, str]:
        wanted = sorted(
            {e.originator_id for e in events if isinstance(e, Incident.Thanked) and not e.department}
        )
        found: dict[str, str] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            c.execute(
                "SELECT incident_id, department FROM channel_mix_incidents"
                f" WHERE incident_id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            found.update({row[0]: row[1] for row in c.fetchall()})
        return found
