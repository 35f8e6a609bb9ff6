"""Published editions of month reports: the figures of a month as they were when it was
closed, kept beside the read models and never overwritten."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from projections.read_model import Cursor

TABLE = "month_editions"
_DDL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (month TEXT NOT NULL, report TEXT NOT NULL,"
    " department TEXT NOT NULL, published_at TEXT NOT NULL, head BIGINT NOT NULL,"
    " rows TEXT NOT NULL, PRIMARY KEY (month, report, department))"
)
ALL_DEPARTMENTS = ""  # the department of an edition of the whole month


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
