"""Published editions of month reports: the figures of a month as they were when it was
closed, kept beside the read models and never overwritten."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from domain.application import Incidents
from projections.month import month_of, shift_month
from projections.queries import Period, Row
from projections.read_model import Cursor

TABLE = "month_editions"
_DDL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (month TEXT NOT NULL, report TEXT NOT NULL,"
    " department TEXT NOT NULL, published_at TEXT NOT NULL, head BIGINT NOT NULL,"
    " rows TEXT NOT NULL, PRIMARY KEY (month, report, department))"
)
ALL_DEPARTMENTS = ""  # the department of an edition of the whole month
EditionName = Literal["published", "restated", "diff"]
# Monthly reports: every row is of one month, so a period's edition is its months' editions.
MONTHLY = ("channels", "dynamics", "thanks")
# Reports over a period as a whole: an edition exists for a one-month period only.
WHOLE_MONTH = ("sla", "root-causes")
# The columns that say which row a figure belongs to (the others are compared).
KEYS: dict[str, tuple[str, ...]] = {
    "channels": ("month", "channel"),
    "dynamics": ("month",),
    "thanks": ("month",),
    "sla": ("department", "clock"),
    "root-causes": ("root_cause",),
}


@dataclass(frozen=True)
class Edition:
    """One report of one month (one department, or all) as published."""

    month: str
    report: str
    department: str | None
    published_at: str  # RFC 3339
    head: int  # the newest notification folded in when it was published
    rows: list[dict[str, Any]]


def create_table(c: Cursor) -> None:
    """The editions table, if it is not there yet."""
    c.execute(_DDL)


def store(c: Cursor, editions: list[Edition]) -> None:
    """Record editions; one already recorded for a (month, report, department) stays."""
    c.executemany(
        f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [
            (e.month, e.report, e.department or ALL_DEPARTMENTS, e.published_at, e.head,
             json.dumps(e.rows, default=str))
            for e in editions
        ],
    )  # fmt: skip


def closed_months(c: Cursor) -> dict[str, str]:
    """Every closed month with the moment it was published."""
    c.execute(f"SELECT month, MIN(published_at) FROM {TABLE} GROUP BY month ORDER BY month")
    return {month: at for month, at in c.fetchall()}


def editions_of(c: Cursor, report: str, first: str, last: str, department: str | None) -> list[Edition]:
    """The published editions of one report for the months from ``first`` to ``last``."""
    c.execute(
        f"SELECT month, published_at, head, rows FROM {TABLE}"
        " WHERE report = ? AND department = ? AND month BETWEEN ? AND ? ORDER BY month",
        (report, department or ALL_DEPARTMENTS, first, last),
    )
    return [
        Edition(month, report, department, at, head, json.loads(rows))
        for month, at, head, rows in c.fetchall()
    ]


def departments_of(c: Cursor, month: str) -> list[str]:
    """The departments with contacts or incidents in a month."""
    c.execute(
        "SELECT department FROM channel_mix WHERE month = ?"
        " UNION SELECT department FROM dynamics WHERE month = ? ORDER BY 1",
        (month, month),
    )
    return [d for (d,) in c.fetchall() if d]


def differences(report: str, edition: Edition, today: list[Row]) -> list[Row]:
    """Each figure that changed since the edition was published, row by row."""
    keys = KEYS[report]
    then = {tuple(r.get(k) for k in keys): r for r in edition.rows}
    now = {tuple(r.get(k) for k in keys): r for r in today}
    changed: list[Row] = []
    for key in sorted(then.keys() | now.keys(), key=lambda k: tuple(str(v) for v in k)):
        old, new = then.get(key, {}), now.get(key, {})
        for measure in [m for m in {**old, **new} if m not in keys]:
            before, after = old.get(measure), new.get(measure)
            if before != after:
                changed.append({
                    **dict(zip(keys, key)), "month": edition.month, "measure": measure,
                    "published": before, "restated": after, "published_at": edition.published_at,
                })  # fmt: skip
    return changed


def late_events(app: Incidents, found: list[Edition], zone: ZoneInfo) -> dict[str, str]:
    """Why each edition's month changed: the events of that month stored after its
    publication, by kind and the day they arrived ("+2 received events that arrived
    2025-04-10"); one pass over the store from the earliest publication."""
    heads = {e.month: e.head for e in found}
    arrived: dict[str, Counter[tuple[str, str]]] = {month: Counter() for month in heads}
    for notification_id, event in app.events_since(min(heads.values(), default=0)):
        month = month_of(datetime.fromisoformat(event.occurred_at), zone)
        if event.KIND and month in heads and notification_id > heads[month]:
            arrived[month][(event.KIND, event.timestamp.astimezone(zone).date().isoformat())] += 1
    return {month: _why(counts) for month, counts in arrived.items()}


def _why(arrived: Counter[tuple[str, str]]) -> str:
    if not arrived:
        return "no late events (rules or corrections changed the figures)"
    return "; ".join(f"+{n} {kind} events that arrived {day}" for (kind, day), n in sorted(arrived.items()))


def unpublished(period: Period, published: list[str]) -> list[str]:
    """The period's months without an edition (none for an open-ended period: those months
    are simply not shown)."""
    if period.first == "0000-01":
        return []
    months, month = [], period.first
    while month <= period.last:
        if month not in published:
            months.append(month)
        month = shift_month(month, 1)
    return months
