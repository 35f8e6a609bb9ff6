"""SLA clocks of a window as of T at a cost that does not grow with the history.

A clock that stopped by T has its outcome stored (computed once, when it stopped): SQL gives
those of the window's months as plain tuples, never parsed into clocks. Only the clocks still
open at T are read whole and evaluated in Python. The clocks open at T are found month by
month of start (`sla_clocks_open_at`: start month, stop), so a T early in a long history
reads none of the clocks started after it, and a late T none of those stopped before it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from domain.clocks import Rules
from projections.errors import QueryError
from projections.month import month_of, shift_month
from projections.read_model import Cursor
from projections.sla_clocks import COLUMNS
from projections.sla_queries import (
    ClockFilter, EvaluatedClock, PolicyChoice, StoredClock, clock_where, evaluate, outcome_of,
    stored_clock,
)  # fmt: skip
from projections.sla_summary import Outcome

_SELECT = f"SELECT {', '.join(COLUMNS)} FROM sla_clocks"
_ORDER = " ORDER BY started_at, incident_id, clock, cycle"


def outcomes(c: Cursor, which: ClockFilter, rules: Rules, as_of: datetime) -> list[Outcome]:
    """The outcome as of ``as_of`` of every clock the filter selects that started by then,
    each under the policy it started under."""
    moment = _utc(as_of)
    where, params = clock_where(which)
    c.execute(
        "SELECT incident_id, clock, cycle, department, final_status, elapsed_minutes,"
        f" policy_version FROM sla_clocks WHERE {where} AND final_status IS NOT NULL"
        " AND stopped_at <= ?",
        [*params, moment],
    )
    stopped = [Outcome(*values) for values in c.fetchall()]
    c.execute(
        f"{_SELECT} WHERE {where} AND started_at <= ?"
        " AND (final_status IS NULL OR stopped_at IS NULL OR stopped_at > ?)" + _ORDER,
        [*params, moment, moment],
    )
    running = evaluate([stored_clock(values) for values in c.fetchall()], rules, as_of)
    return [*stopped, *(outcome_of(clock) for clock in running)]


def evaluated_in_window(
    c: Cursor, which: ClockFilter, rules: Rules, as_of: datetime, policy: PolicyChoice
) -> list[EvaluatedClock]:
    """Every clock the filter selects that started by ``as_of``, evaluated then."""
    where, params = clock_where(which)
    c.execute(f"{_SELECT} WHERE {where} AND started_at <= ?" + _ORDER, [*params, _utc(as_of)])
    return evaluate([stored_clock(values) for values in c.fetchall()], rules, as_of, policy)


def open_at(c: Cursor, which: ClockFilter, zone: ZoneInfo) -> list[StoredClock]:
    """The clocks the filter selects that had started and not stopped at ``which.open_at``,
    by start."""
    assert which.open_at is not None
    moment = _utc(which.open_at)
    c.execute("SELECT MIN(month) FROM sla_clocks")
    (first,) = c.fetchone() or (None,)
    # A start by T is in T's month or before (the month after, should the rows be of another zone).
    last = min(shift_month(month_of(which.open_at, zone), 1), which.period.last)
    first = max(first or last, which.period.first)
    months = _months(first, last)
    if not months:
        return []
    where, params = f"month IN ({', '.join('?' * len(months))})", list(months)
    for column in ("department", "clock"):
        value = getattr(which, column)
        if value is not None:
            where += f" AND {column} = ?"
            params.append(value)
    c.execute(
        f"SELECT * FROM ({_SELECT} WHERE {where} AND stopped_at IS NULL AND started_at <= ?"
        f" UNION ALL {_SELECT} WHERE {where} AND stopped_at > ? AND started_at <= ?) AS open_clocks"
        + _ORDER,
        [*params, moment, *params, moment, moment],
    )
    return [stored_clock(values) for values in c.fetchall()]


def _months(first: str, last: str) -> list[str]:
    months = []
    while first <= last:
        months.append(first)
        first = shift_month(first, 1)
    return months


def _utc(moment: datetime) -> str:
    """Raises:
    QueryError: a naive moment.
    """
    if moment.utcoffset() is None:
        raise QueryError(f"the moment must have a time zone offset, not {moment.isoformat()}")
    return moment.astimezone(UTC).isoformat()  # stored instants are UTC text
