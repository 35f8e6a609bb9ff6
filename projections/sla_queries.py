"""SLA queries: stored clocks evaluated as of a moment, summarised, listed and explained.

Every function takes the moment ``as_of`` as an argument, so a report is deterministic for a
given moment: a clock that stopped later was still running then, a pause that ended later
was still on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from domain.calendar import CalendarError
from domain.clocks import ClockRow, ClockStatus, Rules, measured_against, status_as_of
from domain.sla_rules import CLOCKS, SlaRulesError
from projections.errors import QueryError
from projections.queries import Period, Row
from projections.read_model import Cursor
from projections.sla_clocks import COLUMNS, pauses_of, targets_of
from projections.sla_summary import Outcome, summarise

PolicyChoice = Literal["started", "current"]


@dataclass(frozen=True)
class ClockFilter:
    """Which stored clocks a report looks at: by the month they started, department, clock."""

    period: Period
    department: str | None = None
    clock: str | None = None
    # Only clocks still running at this moment (a prefilter for at-risk reports).
    open_at: datetime | None = None

    def __post_init__(self) -> None:
        """Raises:
        QueryError: an unknown clock name.
        """
        if self.clock is not None and self.clock not in CLOCKS:
            raise QueryError(f"unknown clock '{self.clock}'; clocks: {', '.join(CLOCKS)}")


@dataclass(frozen=True)
class StoredClock:
    """A row of the SLA read model: the clock, its start month and, once stopped, its outcome."""

    row: ClockRow
    month: str
    outcome: ClockStatus | None


@dataclass(frozen=True)
class EvaluatedClock:
    """A clock as it stood at the moment asked about."""

    row: ClockRow
    month: str
    status: ClockStatus

    @property
    def finished(self) -> bool:
        """Met or breached: stopped by that moment."""
        return self.status.status in ("met", "breached")


def stored_clocks(c: Cursor, which: ClockFilter) -> list[StoredClock]:
    """The read model's rows that match the filter, by start."""
    where, params = clock_where(which)
    if which.open_at is not None:
        moment = which.open_at.astimezone(UTC).isoformat()  # stored instants are UTC text
        where += " AND started_at <= ? AND (stopped_at IS NULL OR stopped_at > ?)"
        params += [moment, moment]
    c.execute(
        f"SELECT {', '.join(COLUMNS)} FROM sla_clocks WHERE {where}"
        " ORDER BY started_at, incident_id, clock, cycle",
        params,
    )
    return [stored_clock(values) for values in c.fetchall()]


def clock_where(which: ClockFilter, table: str = "") -> tuple[str, list[Any]]:
    """The SQL condition (and its parameters) of the filter's months, department and clock,
    on the columns of ``table`` when given (a query that joins the clocks to themselves)."""
    prefix = f"{table}." if table else ""
    where, params = f"{prefix}month BETWEEN ? AND ?", [which.period.first, which.period.last]
    for column in ("department", "clock"):
        value = getattr(which, column)
        if value is not None:
            where += f" AND {prefix}{column} = ?"
            params.append(value)
    return where, params


def evaluate(
    stored: Iterable[StoredClock], rules: Rules, as_of: datetime, policy: PolicyChoice = "started"
) -> list[EvaluatedClock]:
    """The clocks started by ``as_of``, each with its status then.

    ``policy="current"`` measures every clock against today's policy version instead of the
    one it started under (calendars are not versioned: the working minutes stay the same).

    Raises:
        QueryError: a naive ``as_of``, or stored rows that the configuration no longer
            covers (an unknown calendar or clock: rebuild the read model).
    """
    if as_of.utcoffset() is None:
        raise QueryError(f"the moment must have a time zone offset, not {as_of.isoformat()}")
    evaluated = []
    try:
        for clock in stored:
            row, outcome = clock.row, clock.outcome
            if row.started_at > as_of:
                continue
            if policy == "current":
                row, outcome = _under_current_policy(row, outcome, rules)
            if outcome is None or row.stopped_at is None or row.stopped_at > as_of:
                calendar = rules.calendar(row.calendar)
                outcome = status_as_of(row, calendar, as_of, rules.at_risk)
            assert outcome is not None  # started by as_of
            evaluated.append(EvaluatedClock(row, clock.month, outcome))
    except (SlaRulesError, CalendarError) as err:
        raise QueryError(f"{err}; after changing calendars run `projections rebuild sla_clocks`") from None
    return evaluated


def policy_versions(clocks: Iterable[EvaluatedClock]) -> list[int]:
    """The policy versions the clocks were measured against."""
    return sorted({clock.row.policy_version for clock in clocks})


def summary(clocks: Sequence[EvaluatedClock]) -> list[Row]:
    """Per department and clock: how many started, by status; compliance; working minutes
    (`projections.sla_summary.summarise` of the clocks' outcomes)."""
    return summarise(outcome_of(clock) for clock in clocks)


def outcome_of(clock: EvaluatedClock) -> Outcome:
    """What the summary needs of an evaluated clock."""
    row, status = clock.row, clock.status
    return Outcome(
        row.incident_id, row.clock, row.cycle, row.department, status.status,
        status.elapsed_minutes, row.policy_version,
    )  # fmt: skip


def listing(clocks: Sequence[EvaluatedClock], zones: dict[str, Any]) -> list[Row]:
    """One row per clock and cycle; times in the clock calendar's zone (``zones[name]``)."""
    rows = []
    for clock in clocks:
        row, status = clock.row, clock.status
        zone = zones[row.calendar]
        rows.append({
            "incident_id": row.incident_id,
            "clock": row.clock,
            "cycle": row.cycle,
            "department": row.department,
            "started_at": row.started_at.astimezone(zone).isoformat(),
            "deadline": status.deadline.astimezone(zone).isoformat(),
            "stopped_at": _local(row.stopped_at, zone) if clock.finished else None,
            "target_minutes": status.target_minutes,
            "elapsed_minutes": status.elapsed_minutes,
            "paused_minutes": status.paused_minutes,
            "status": status.status,
            "policy_version": row.policy_version,
        })  # fmt: skip
    return rows


def at_risk(clocks: Sequence[EvaluatedClock]) -> list[EvaluatedClock]:
    """Open clocks at risk or already breached, the most urgent first."""
    urgent = [c for c in clocks if c.status.status in ("at_risk", "running_breached")]
    return sorted(urgent, key=lambda c: (c.status.deadline, c.row.incident_id, c.row.clock))


def per_incident_resolution(clocks: Iterable[EvaluatedClock]) -> list[EvaluatedClock]:
    """The clocks with the resolution clock reduced to each incident's latest cycle."""
    latest: dict[str, EvaluatedClock] = {}
    others = []
    for clock in clocks:
        if clock.row.clock != "resolution":
            others.append(clock)
        elif clock.row.incident_id not in latest or latest[clock.row.incident_id].row.cycle < clock.row.cycle:
            latest[clock.row.incident_id] = clock
    return [*others, *latest.values()]


def _under_current_policy(
    row: ClockRow, outcome: ClockStatus | None, rules: Rules
) -> tuple[ClockRow, ClockStatus | None]:
    changed = measured_against(row, rules.current)
    if replace(changed, policy_version=row.policy_version) == row:
        return changed, outcome
    return changed, None


def stored_clock(columns: Sequence[Any]) -> StoredClock:
    """The clock of a read model row (its values in `COLUMNS` order)."""
    values = dict(zip(COLUMNS, columns, strict=True))
    row = ClockRow(
        values["incident_id"], values["clock"], values["cycle"], values["department"],
        values["channel"], values["category"], values["priority"], values["store"],
        values["party"], values["calendar"], _instant(values["started_at"]),
        _instant(values["stopped_at"]) if values["stopped_at"] else None,
        values["target_minutes"], values["grace_minutes"], values["policy_version"],
        pauses_of(values["pauses"]), values["root_cause"], values["resolution"],
        values["carried_minutes"], targets_of(values["targets"]),
    )  # fmt: skip
    outcome = None
    if values["final_status"] is not None:
        outcome = ClockStatus(
            values["final_status"], values["elapsed_minutes"], values["paused_minutes"],
            _instant(values["deadline"]), row.limit_minutes - values["elapsed_minutes"],
            row.target_minutes,
        )  # fmt: skip
    return StoredClock(row, values["month"], outcome)


def _local(instant: datetime | None, zone: Any) -> str | None:
    return None if instant is None else instant.astimezone(zone).isoformat()


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)
