"""SLA clocks of a window as of T at a cost that does not grow with the history.

A clock that stopped by T has its outcome stored (computed once, when it stopped): SQL gives
those of the window's months as plain tuples, never parsed into clocks. Only the clocks still
open at T are read whole and evaluated in Python. The clocks open at T are found month by
month of start (`sla_clocks_open_at`: start month, stop), so a T early in a long history
reads none of the clocks started after it, and a late T none of those stopped before it.
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from typing import Any
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
from projections.queries import Row
from projections.sla_summary import STATUSES, Outcome, p90_rank, summary_key, summary_row

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


def summary(c: Cursor, which: ClockFilter, rules: Rules, as_of: datetime) -> tuple[list[Row], list[int]] | None:
    """`report sla`'s summary under the policy each clock started under, and the policy
    versions: the stopped clocks counted by SQL, with only their working minutes fetched for
    the exact median and p90; the clocks open at T evaluated here. The resolution clock counts
    its latest cycle only (started by T, in the filter).

    None when a clock read here had stopped by T without a stored outcome (a row of an old
    read model): `outcomes` then gives every clock's outcome to summarise.
    """
    moment = _utc(as_of)
    where, params = clock_where(which, "s")
    later, later_params = clock_where(which, "later")
    latest = (
        "(s.clock <> 'resolution' OR NOT EXISTS (SELECT 1 FROM sla_clocks AS later"
        " WHERE later.incident_id = s.incident_id AND later.clock = 'resolution'"
        f" AND later.cycle > s.cycle AND later.started_at <= ? AND {later}))"
    )
    chosen = f"{where} AND {latest}"
    chosen_params = [*params, moment, *later_params]
    stopped = "s.final_status IS NOT NULL AND s.stopped_at <= ?"
    counts: dict[tuple[str, str], dict[str, int]] = {}
    reopened: dict[tuple[str, str], int] = {}
    versions: set[int] = set()
    c.execute(
        "SELECT s.department, s.clock, s.final_status, s.policy_version, COUNT(*),"
        " SUM(CASE WHEN s.cycle > 1 THEN 1 ELSE 0 END) FROM sla_clocks AS s"
        f" WHERE {chosen} AND {stopped} GROUP BY s.department, s.clock, s.final_status, s.policy_version",
        [*chosen_params, moment],
    )
    for department, clock, status, version, count, again in c.fetchall():
        _counted(counts, reopened, (department, clock), status, int(count), int(again))
        versions.add(int(version))
    c.execute(
        f"SELECT {', '.join('s.' + name for name in COLUMNS)} FROM sla_clocks AS s WHERE {chosen}"
        " AND s.started_at <= ? AND NOT (s.final_status IS NOT NULL AND s.stopped_at IS NOT NULL"
        " AND s.stopped_at <= ?)",
        [*chosen_params, moment, moment],
    )
    for clock in evaluate([stored_clock(values) for values in c.fetchall()], rules, as_of):
        if clock.finished:
            return None
        key = (clock.row.department, clock.row.clock)
        _counted(counts, reopened, key, clock.status.status, 1, int(clock.row.cycle > 1))
        versions.add(clock.row.policy_version)
    minutes = _minutes(c, f"{chosen} AND {stopped}", [*chosen_params, moment])
    if len({department for department, _ in counts}) > 1:
        for (_, name), by_status in list(counts.items()):
            every = counts.setdefault(("(all)", name), dict.fromkeys(STATUSES, 0))
            for status, count in by_status.items():
                every[status] += count
            reopened["(all)", name] = reopened.get(("(all)", name), 0) + reopened[_, name]
            minutes.setdefault(("(all)", name), []).extend(minutes.get((_, name), []))
    rows = []
    for key in sorted(counts, key=summary_key):
        by_status = counts[key]
        ordered = sorted(minutes.get(key, []))
        median = statistics.median(ordered) if ordered else None
        p90 = ordered[p90_rank(len(ordered)) - 1] if ordered else None
        rows.append(summary_row(*key, by_status, median, p90, reopened[key]))
    return rows, sorted(versions)


def _counted(
    counts: dict[tuple[str, str], dict[str, int]], reopened: dict[tuple[str, str], int],
    key: tuple[str, str], status: str, count: int, again: int,
) -> None:  # fmt: skip
    counts.setdefault(key, dict.fromkeys(STATUSES, 0))[status] += count
    reopened[key] = reopened.get(key, 0) + again


def _minutes(c: Cursor, where: str, params: list[Any]) -> dict[tuple[str, str], list[float]]:
    """Per department and clock, the working minutes of the clocks stopped by T (met or
    breached): one number per clock, nothing parsed."""
    c.execute(
        "SELECT s.department, s.clock, s.elapsed_minutes FROM sla_clocks AS s"
        f" WHERE {where} AND s.final_status IN ('met', 'breached')",
        params,
    )
    found: dict[tuple[str, str], list[float]] = {}
    for department, clock, elapsed in c.fetchall():
        found.setdefault((department, clock), []).append(elapsed)
    return found
