"""SLA clocks: one row per (incident, clock, cycle), kept current from the event store.

A stopped clock's outcome never changes, so its working minutes, deadline and status are
evaluated once, when it stops, and stored. A running clock stores what it is made of (start,
target, pauses) and is evaluated at query time against the moment asked about.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.clocks import ClockRow, ClockStatus, Rules, compute_clocks, status_as_of
from domain.incident import Incident
from projections.month import month_of
from projections.read_model import Cursor, event_topics

# Loads the stored events of incidents: id → events in version order.
HistoryLoader = Callable[[Sequence[str]], Mapping[str, Sequence[Incident.Event]]]

COLUMNS = (
    "incident_id", "clock", "cycle", "month", "department", "channel", "category", "priority",
    "store", "party", "calendar", "started_at", "stopped_at", "target_minutes", "grace_minutes",
    "policy_version", "carried_minutes", "pauses", "root_cause", "resolution",
    "elapsed_minutes", "paused_minutes", "deadline", "final_status",
)  # fmt: skip

_CREATE = (
    "CREATE TABLE IF NOT EXISTS sla_clocks ("
    " incident_id TEXT NOT NULL, clock TEXT NOT NULL, cycle INTEGER NOT NULL,"
    " month TEXT NOT NULL, department TEXT NOT NULL, channel TEXT NOT NULL, category TEXT,"
    " priority TEXT NOT NULL, store TEXT, party TEXT NOT NULL, calendar TEXT NOT NULL,"
    " started_at TEXT NOT NULL, stopped_at TEXT, target_minutes REAL NOT NULL,"
    " grace_minutes REAL NOT NULL, policy_version INTEGER NOT NULL,"
    " carried_minutes REAL NOT NULL, pauses TEXT NOT NULL, root_cause TEXT, resolution TEXT,"
    " elapsed_minutes REAL, paused_minutes REAL, deadline TEXT, final_status TEXT,"
    " PRIMARY KEY (incident_id, clock, cycle))"
)
_INDEX = "CREATE INDEX IF NOT EXISTS sla_clocks_by_month ON sla_clocks (month, department, clock)"
_CHUNK = 500


class SlaClocks:
    """The SLA read model: every clock of every incident, each under the policy it started under.

    When a batch touches an incident, all its clocks are computed again from its whole
    history (an early pause or a late reopen can change any of them), so rebuilding from
    the same events always gives the same rows, whatever order they arrived in.
    """

    name = "sla_clocks"
    topics: tuple[str, ...] = event_topics(
        Incident.Received, Incident.Escalated, Incident.Resolved, Incident.Reopened,
        Incident.Paused, Incident.Resumed,
    )  # fmt: skip
    tables: tuple[str, ...] = ("sla_clocks",)

    def __init__(self, rules: Rules, load_histories: HistoryLoader, zone: ZoneInfo) -> None:
        self.rules = rules
        self.load_histories = load_histories
        self.zone = zone

    def create_tables(self, c: Cursor) -> None:
        c.execute(_CREATE)
        c.execute(_INDEX)

    def process(self, c: Cursor, events: Sequence[Incident.Event]) -> None:
        histories, begun_earlier = self._histories(events)
        rows = [
            self._stored(row)
            for incident_id in histories
            for row in compute_clocks(histories[incident_id], self.rules)
        ]
        # Rows exist only for incidents begun before this batch (its position commits with them).
        touched = begun_earlier
        for start in range(0, len(touched), _CHUNK):
            chunk = touched[start : start + _CHUNK]
            c.execute(
                f"DELETE FROM sla_clocks WHERE incident_id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
        c.executemany(
            f"INSERT INTO sla_clocks ({', '.join(COLUMNS)})"
            f" VALUES ({', '.join('?' * len(COLUMNS))})",
            rows,
        )

    def _histories(
        self, events: Sequence[Incident.Event]
    ) -> tuple[dict[str, list[Incident.Event]], list[str]]:
        """Each touched incident's events so far.

        An incident whose first event is in the batch has all its events up to the batch's
        end in it too (the runner hands over every notification of these topics in order),
        so only the others are read from the store. Returns the histories and those others.
        """
        batch: dict[str, list[Incident.Event]] = {}
        for e in events:
            batch.setdefault(e.originator_id, []).append(e)
        begun_earlier = [i for i, group in batch.items() if group[0].originator_version != 1]
        if begun_earlier:
            for incident_id, stored in self.load_histories(begun_earlier).items():
                batch[incident_id] = list(stored)
        return batch, begun_earlier

    def _stored(self, row: ClockRow) -> tuple[object, ...]:
        outcome = self._outcome(row)
        return (
            row.incident_id, row.clock, row.cycle, month_of(row.started_at, self.zone),
            row.department, row.channel, row.category, row.priority, row.store, row.party,
            row.calendar, row.started_at.isoformat(), _text(row.stopped_at), row.target_minutes,
            row.grace_minutes, row.policy_version, row.carried_minutes, pauses_text(row.pauses),
            row.root_cause, row.resolution,
            *((None, None, None, None) if outcome is None else (
                outcome.elapsed_minutes, outcome.paused_minutes, outcome.deadline.isoformat(),
                outcome.status,
            )),
        )  # fmt: skip

    def _outcome(self, row: ClockRow) -> ClockStatus | None:
        """The final evaluation of a stopped clock; None while it runs."""
        if row.stopped_at is None:
            return None
        calendar = self.rules.calendar(row.calendar)
        return status_as_of(row, calendar, row.stopped_at, self.rules.at_risk)


def pauses_text(pauses: Sequence[tuple[datetime, datetime | None]]) -> str:
    """Pauses as a JSON list of [start, end-or-null] RFC 3339 pairs."""
    if not pauses:
        return "[]"
    return json.dumps([[s.isoformat(), _text(e)] for s, e in pauses])


def pauses_of(text: str) -> tuple[tuple[datetime, datetime | None], ...]:
    """The pauses stored by `pauses_text`."""
    return tuple(
        (datetime.fromisoformat(s), None if e is None else datetime.fromisoformat(e))
        for s, e in json.loads(text)
    )


def _text(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat()
