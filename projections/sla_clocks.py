"""SLA clocks: one row per (incident, clock, cycle), kept current from the event store.

A stopped clock's outcome never changes, so its working minutes, deadline and status are
evaluated once, when it stops, and stored. A running clock stores what it is made of (start,
targets, pauses) and is evaluated at query time against the moment asked about. The read
model records the fingerprint of the rules it was filled under, so that reports can say when
the rules in force are others.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.clocks import ClockRow, ClockStatus, Target, status_as_of
from domain.incident import EVENT_CLASSES, Incident
from domain.incident_clocks import compute_clocks
from domain.sla_fingerprint import rules_fingerprint
from domain.sla_rules import SlaRules
from projections.month import month_of
from projections.per_incident import HistoryLoader, touched
from projections.read_model import Cursor, event_topics


COLUMNS = (
    "incident_id", "clock", "cycle", "month", "department", "channel", "category", "priority",
    "store", "party", "calendar", "started_at", "stopped_at", "target_minutes", "grace_minutes",
    "policy_version", "carried_minutes", "pauses", "root_cause", "resolution",
    "elapsed_minutes", "paused_minutes", "deadline", "final_status", "targets",
)  # fmt: skip
STALE_RULES = "computed under other rules: run `ticketstream projections rebuild sla_clocks`"
# Recorded for a read model filled before fingerprints were: its rules are unknown.
UNKNOWN_RULES = "unknown"

_CREATE = (
    "CREATE TABLE IF NOT EXISTS sla_clocks ("
    " incident_id TEXT NOT NULL, clock TEXT NOT NULL, cycle INTEGER NOT NULL,"
    " month TEXT NOT NULL, department TEXT NOT NULL, channel TEXT NOT NULL, category TEXT,"
    " priority TEXT NOT NULL, store TEXT, party TEXT NOT NULL, calendar TEXT NOT NULL,"
    " started_at TEXT NOT NULL, stopped_at TEXT, target_minutes REAL NOT NULL,"
    " grace_minutes REAL NOT NULL, policy_version INTEGER NOT NULL,"
    " carried_minutes REAL NOT NULL, pauses TEXT NOT NULL, root_cause TEXT, resolution TEXT,"
    " elapsed_minutes REAL, paused_minutes REAL, deadline TEXT, final_status TEXT,"
    " targets TEXT NOT NULL DEFAULT '[]',"
    " PRIMARY KEY (incident_id, clock, cycle))"
)
_INDEX = "CREATE INDEX IF NOT EXISTS sla_clocks_by_month ON sla_clocks (month, department, clock)"
# The clocks open at a moment, start month by start month (`projections.sla_window.open_at`).
_OPEN_AT_INDEX = "CREATE INDEX IF NOT EXISTS sla_clocks_open_at ON sla_clocks (month, stopped_at)"
_CREATE_RULES = (
    "CREATE TABLE IF NOT EXISTS sla_clocks_rules ("
    " id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL)"
)


class SlaClocks:
    """The SLA read model: every clock of every incident, each under the policy it started under.

    When a batch touches an incident, all its clocks are computed again from its whole
    history (an early pause or a late reopen can change any of them), so rebuilding from
    the same events always gives the same rows, whatever order they arrived in.
    """

    name = "sla_clocks"
    # Every kind: a batch's history of an incident is then its whole stream so far, ordered
    # exactly as the stored one (facts of one instant are ordered by all of them together).
    topics: tuple[str, ...] = event_topics(*EVENT_CLASSES)
    # Emptied by a rebuild, the fingerprint too: the rebuilt model records the rules of then.
    tables: tuple[str, ...] = ("sla_clocks", "sla_clocks_rules")

    def __init__(self, rules: SlaRules, load_histories: HistoryLoader, zone: ZoneInfo) -> None:
        self.rules = rules
        self.load_histories = load_histories
        self.zone = zone
        # The rows depend on the rules and on the reporting zone (their month).
        self.fingerprint = f"{rules_fingerprint(rules)}@{zone.key}"
        self._plan: _Plan | None = None

    def create_tables(self, c: Cursor) -> None:
        c.execute(_CREATE)
        c.execute("SELECT * FROM sla_clocks WHERE 1 = 0")
        if "targets" not in {column[0] for column in c.description}:
            # A table of an earlier version: its rows are kept until a rebuild, which the
            # unknown fingerprint they get asks for.
            c.execute("ALTER TABLE sla_clocks ADD COLUMN targets TEXT NOT NULL DEFAULT '[]'")
        c.execute(_INDEX)
        c.execute(_OPEN_AT_INDEX)
        c.execute(_CREATE_RULES)

    def stale_note(self, c: Cursor) -> str | None:
        """`STALE_RULES` when the rows were computed under other rules than this model's."""
        recorded = recorded_fingerprint(c)
        return None if recorded in (None, self.fingerprint) else STALE_RULES

    def prepare(self, read: Cursor, events: Sequence[Incident.Event]) -> None:
        """Compute the batch's rows (before the runner's write transaction)."""
        self._plan = self._planned(read, events)

    def process(self, c: Cursor, events: Sequence[Incident.Event]) -> None:
        plan, self._plan = self._plan or self._planned(c, events), None
        fingerprint, fresh, gone = plan
        if fingerprint is not None:
            c.execute(
                "INSERT INTO sla_clocks_rules (id, fingerprint) VALUES (1, ?)"
                " ON CONFLICT (id) DO NOTHING",
                (fingerprint,),
            )
        c.executemany("DELETE FROM sla_clocks WHERE incident_id=? AND clock=? AND cycle=?", gone)
        c.executemany(
            f"INSERT INTO sla_clocks ({', '.join(COLUMNS)})"
            f" VALUES ({', '.join('?' * len(COLUMNS))})",
            fresh,
        )

    def _planned(self, c: Cursor, events: Sequence[Incident.Event]) -> _Plan:
        """The fingerprint to record (None: recorded), the rows to insert, the keys to delete."""
        batch = touched(events, self.load_histories)
        # Rows exist only for incidents begun before this batch (its position commits with them).
        stored = _stored_rows(c, batch.begun_earlier)
        fresh, gone = [], []
        for incident_id in batch.histories:
            for row in compute_clocks(batch.ordered(incident_id), self.rules):
                described = self._described(row)
                before = stored.pop(described[:3], None)
                if before is not None and _without_outcome(before) == described:
                    continue  # the same clock as stored: so is its outcome (no calendar work)
                if before is not None:
                    gone.append(described[:3])
                fresh.append(_with_outcome(described, self._outcome(row)))
        gone.extend(stored)  # clocks an incident no longer has
        return self._fingerprint_to_record(c), fresh, gone

    def _fingerprint_to_record(self, c: Cursor) -> str | None:
        """The rules to record on first filling (rows without a fingerprint: unknown rules)."""
        if recorded_fingerprint(c) is not None:
            return None
        c.execute("SELECT 1 FROM sla_clocks LIMIT 1")
        return UNKNOWN_RULES if c.fetchone() else self.fingerprint

    def _described(self, row: ClockRow) -> tuple[object, ...]:
        """The row's columns but its outcome's (``_OUTCOME``), in ``COLUMNS`` order."""
        return (
            row.incident_id, row.clock, row.cycle, month_of(row.started_at, self.zone),
            row.department, row.channel, row.category, row.priority, row.store, row.party,
            row.calendar, row.started_at.isoformat(), _text(row.stopped_at), row.target_minutes,
            row.grace_minutes, row.policy_version, row.carried_minutes, pauses_text(row.pauses),
            row.root_cause, row.resolution, targets_text(row.targets),
        )  # fmt: skip

    def _outcome(self, row: ClockRow) -> ClockStatus | None:
        """The final evaluation of a stopped clock; None while it runs."""
        if row.stopped_at is None:
            return None
        calendar = self.rules.calendar(row.calendar)
        return status_as_of(row, calendar, row.stopped_at, self.rules.at_risk)


# What a batch will write: the fingerprint to record, rows to insert, (id, clock, cycle) to delete.
_Plan = tuple[str | None, list[tuple[object, ...]], list[tuple[object, ...]]]
# Where a stopped clock's outcome sits among COLUMNS: computed once, when it stops.
_OUTCOME = slice(COLUMNS.index("elapsed_minutes"), COLUMNS.index("final_status") + 1)


def _with_outcome(described: tuple[object, ...], outcome: ClockStatus | None) -> tuple[object, ...]:
    values = (None, None, None, None) if outcome is None else (
        outcome.elapsed_minutes, outcome.paused_minutes, outcome.deadline.isoformat(),
        outcome.status,
    )  # fmt: skip
    return (*described[: _OUTCOME.start], *values, *described[_OUTCOME.start :])


def _without_outcome(stored: tuple[object, ...]) -> tuple[object, ...]:
    return (*stored[: _OUTCOME.start], *stored[_OUTCOME.stop :])


def _stored_rows(c: Cursor, incident_ids: Sequence[str]) -> dict[tuple[object, ...], tuple[object, ...]]:
    """The stored rows of these incidents by (incident_id, clock, cycle), in COLUMNS order."""
    rows: dict[tuple[object, ...], tuple[object, ...]] = {}
    for start in range(0, len(incident_ids), 500):
        chunk = incident_ids[start : start + 500]
        c.execute(
            f"SELECT {', '.join(COLUMNS)} FROM sla_clocks"
            f" WHERE incident_id IN ({','.join('?' * len(chunk))})",
            chunk,
        )
        for row in c.fetchall():
            values = tuple(row)
            rows[values[:3]] = values
    return rows


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


def recorded_fingerprint(c: Cursor) -> str | None:
    """The fingerprint of the rules the read model was filled under; None: not filled yet."""
    c.execute("SELECT fingerprint FROM sla_clocks_rules WHERE id = 1")
    found = c.fetchone()
    return None if found is None else str(found[0])


def targets_text(targets: Sequence[Target]) -> str:
    """Targets as a JSON list of [since, channel, category, priority, target, grace]."""
    if not targets:
        return "[]"
    return json.dumps([
        [t.since.isoformat(), t.channel, t.category, t.priority, t.target_minutes, t.grace_minutes]
        for t in targets
    ])  # fmt: skip


def targets_of(text: str) -> tuple[Target, ...]:
    """The targets stored by `targets_text`."""
    if text == "[]":
        return ()
    return tuple(
        Target(datetime.fromisoformat(since), channel, category, priority, target, grace)
        for since, channel, category, priority, target, grace in json.loads(text)
    )


def _text(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat()
