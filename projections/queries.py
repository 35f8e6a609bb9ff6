"""Read-side queries behind the reports: rows as plain dicts, the clock passed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from projections.errors import QueryError
from projections.month import month_of, parse_month
from projections.read_model import Cursor

Row = dict[str, Any]


@dataclass(frozen=True)
class Period:
    """An inclusive range of reporting months; the end defaults to the month of ``now``."""

    first: str
    last: str

    @classmethod
    def of(cls, first: str | None, last: str | None, now: datetime, zone: ZoneInfo) -> Period:
        """Build a period from optional YYYY-MM bounds.

        Raises:
            QueryError: for a malformed month or a period that ends before it begins.
        """
        begin = parse_month(first) if first else "0000-01"
        end = parse_month(last) if last else month_of(now, zone)
        if end < begin:
            raise QueryError(f"the period ends ({end}) before it begins ({begin})")
        return cls(begin, end)


def channel_rows(c: Cursor, period: Period, department: str | None = None) -> list[Row]:
    """Contacts per month and channel, with the channel's share of that month's contacts."""
    where, params = _filters(period, department)
    c.execute(
        "SELECT month, channel, SUM(contacts) FROM channel_mix"
        f" WHERE {where} GROUP BY month, channel ORDER BY month, channel",
        params,
    )
    rows = [{"month": m, "channel": ch, "contacts": n} for m, ch, n in c.fetchall()]
    totals: dict[str, int] = {}
    for row in rows:
        totals[row["month"]] = totals.get(row["month"], 0) + row["contacts"]
    for row in rows:
        row["share"] = row["contacts"] / totals[row["month"]]
    return rows


def dynamics_rows(c: Cursor, period: Period, department: str | None = None) -> list[Row]:
    """Incidents received per month."""
    where, params = _filters(period, department)
    c.execute(
        f"SELECT month, SUM(incidents) FROM dynamics WHERE {where} GROUP BY month ORDER BY month",
        params,
    )
    return [{"month": m, "incidents": n} for m, n in c.fetchall()]


def thanks_rows(c: Cursor, period: Period, department: str | None = None) -> list[Row]:
    """Thanks and all contacts per month, and the share of thanks among contacts."""
    if department is not None:
        return _thanks_rows_of_department(c, period, department)
    c.execute(
        "SELECT month, received, thanked FROM thanks_share"
        " WHERE month BETWEEN ? AND ? ORDER BY month",
        (period.first, period.last),
    )
    return [_thanks_row(m, received + thanked, thanked) for m, received, thanked in c.fetchall()]


def _thanks_rows_of_department(c: Cursor, period: Period, department: str) -> list[Row]:
    # Per department, thanks = the department's contacts (channel mix) minus its incidents.
    where, params = _filters(period, department)
    c.execute(f"SELECT month, SUM(contacts) FROM channel_mix WHERE {where} GROUP BY month", params)
    contacts = {m: n for m, n in c.fetchall()}
    c.execute(f"SELECT month, SUM(incidents) FROM dynamics WHERE {where} GROUP BY month", params)
    received = {m: n for m, n in c.fetchall()}
    return [_thanks_row(m, contacts[m], contacts[m] - received.get(m, 0)) for m in sorted(contacts)]


def _thanks_row(month: str, contacts: int, thanked: int) -> Row:
    share = thanked / contacts if contacts else 0.0
    return {"month": month, "contacts": contacts, "thanks": thanked, "share": share}


def _filters(period: Period, department: str | None) -> tuple[str, list[str]]:
    where, params = "month BETWEEN ? AND ?", [period.first, period.last]
    if department is not None:
        where += " AND department = ?"
        params.append(department)
    return where, params
