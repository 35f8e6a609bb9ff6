"""SLA clocks (DESIGN §4): one clock of one incident as a row, and its status as of T."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, Protocol

from domain.calendar import BusinessCalendar, as_utc as _utc

ClockName = Literal[
    "handover", "escalation_response", "completion_report", "resolution", "ownership"
]
Status = Literal["met", "breached", "running", "at_risk", "running_breached", "paused"]
LineKind = Literal["counted", "paused", "closed"]
Pause = tuple[datetime, datetime | None]


class Rule(Protocol):
    """The target of one clock: working minutes, plus grace before it counts as breached."""

    # Read-only properties, so that frozen dataclasses satisfy these protocols too.
    @property
    def target_minutes(self) -> float: ...

    @property
    def grace_minutes(self) -> float: ...


class Policy(Protocol):
    """One version of the SLA policy: (clock, department, channel, category, priority) → rule."""

    @property
    def version(self) -> int: ...

    def rule_for(
        self, clock: str, department: str, channel: str, category: str | None, priority: str
    ) -> Rule: ...


class AtRisk(Protocol):
    """A running clock is at risk when remaining ≤ max(share × (target+grace), minutes)."""

    @property
    def share(self) -> float: ...

    @property
    def minutes(self) -> float: ...


class Rules(Protocol):
    """Calendars and versioned policies, as the SLA configuration provides them."""

    @property
    def at_risk(self) -> AtRisk: ...

    def calendar_for(self, clock: str, department: str, store: str | None) -> BusinessCalendar: ...

    def calendar(self, name: str) -> BusinessCalendar: ...

    def policy_at(self, instant: datetime) -> Policy: ...

    def policy(self, version: int) -> Policy: ...

    @property
    def current(self) -> Policy: ...


@dataclass(frozen=True)
class Target:
    """A clock's target from ``since`` on, for the classification the incident had then."""

    since: datetime
    channel: str
    category: str | None
    priority: str
    target_minutes: float
    grace_minutes: float


@dataclass(frozen=True)
class ClockRow:
    """One clock of one incident, as far as its events go; evaluate it with `status_as_of`.

    ``cycle`` counts escalations (escalation_response), resolution cycles (resolution,
    completion_report) or the stretches a department held the incident (ownership; there
    ``department`` and ``party`` are the holding group). A reopen resumes the resolution
    clock: the next cycle starts at the reopen, and ``carried_minutes`` holds the working
    minutes counted in the cycles before, so the last cycle measures the final resolution
    against the clock's target. ``pauses`` are sorted, disjoint and inside
    ``[started_at, stopped_at]``.

    ``channel``, ``category`` and ``priority`` are the incident's final classification.
    ``targets`` lists the targets the clock had when its classification changed while it ran
    (a reclassification re-targets a running clock, its counted minutes kept), or when it
    ran under another classification than the final one; sorted by ``since``, the first at
    ``started_at``. Empty: the final classification's target held throughout.
    ``target_minutes`` and ``grace_minutes`` are the target in force at the stop (while it
    runs: after the last change).
    """

    incident_id: str
    clock: str
    cycle: int
    department: str
    channel: str
    category: str | None
    priority: str
    store: str | None
    party: str
    calendar: str
    started_at: datetime
    stopped_at: datetime | None
    target_minutes: float
    grace_minutes: float
    policy_version: int
    pauses: tuple[Pause, ...] = ()
    root_cause: str | None = None
    resolution: str | None = None
    carried_minutes: float = 0.0
    targets: tuple[Target, ...] = ()

    @property
    def limit_minutes(self) -> float:
        """Target plus grace at the stop: counted working minutes beyond it breach the clock."""
        return self.target_minutes + self.grace_minutes

    def target_at(self, instant: datetime) -> tuple[float, float]:
        """Target and grace minutes in force at ``instant`` (a change at that instant included)."""
        if not self.targets:
            return self.target_minutes, self.grace_minutes
        index = bisect_right([target.since for target in self.targets], instant) - 1
        chosen = self.targets[max(index, 0)]
        return chosen.target_minutes, chosen.grace_minutes


@dataclass(frozen=True)
class ClockStatus:
    """A clock evaluated as of one moment; minutes are working minutes of its calendar.

    ``target_minutes`` is the target in force then (``remaining_minutes`` counts to it plus
    the grace).
    """

    status: Status
    elapsed_minutes: float
    paused_minutes: float
    deadline: datetime
    remaining_minutes: float
    target_minutes: float


@dataclass(frozen=True)
class TraceLine:
    """One stretch of a clock's time: counted, paused, or closed (outside working hours)."""

    start: datetime
    end: datetime
    kind: LineKind


def status_as_of(
    row: ClockRow, calendar: BusinessCalendar, as_of: datetime, at_risk: AtRisk
) -> ClockStatus | None:
    """The status of ``row`` as known at ``as_of``; None if it had not started by then.

    Whatever happened after ``as_of`` is ignored: a clock stopped later is running, a pause
    ended later is still on, a target set later is not in force yet.

    Raises:
        ValueError: a naive ``as_of``.
    """
    as_of = _utc(as_of)
    if as_of < row.started_at:
        return None
    stopped = row.stopped_at
    if stopped is not None and stopped <= as_of and not row.pauses and not row.targets:
        # The common case, evaluated at (or after) its stop: what the general way below
        # computes, without what cannot apply (targets, pauses, risk).
        limit = row.target_minutes + row.grace_minutes
        elapsed = row.carried_minutes + calendar.working_minutes(row.started_at, stopped)
        remaining = limit - elapsed
        due = calendar.add_working_minutes(row.started_at, max(limit - row.carried_minutes, 0.0))
        met: Status = "met" if remaining >= 0 else "breached"
        return ClockStatus(met, elapsed, 0.0, due, remaining, row.target_minutes)
    target, grace = row.target_at(_end(row, as_of))
    limit = target + grace
    counted, paused = _counted_and_paused(row, calendar, as_of)
    elapsed = row.carried_minutes + counted
    remaining = limit - elapsed
    status = _status(row, as_of, remaining, max(at_risk.share * limit, at_risk.minutes))
    deadline = _deadline(row, calendar, as_of, limit)
    return ClockStatus(status, elapsed, paused, deadline, remaining, target)


def trace(row: ClockRow, calendar: BusinessCalendar, as_of: datetime) -> list[TraceLine]:
    """Consecutive lines from ``started_at`` to the stop (or ``as_of``, if earlier).

    Working intervals of the calendar are counted or paused; the gaps between them are closed.

    Raises:
        ValueError: a naive ``as_of``.
    """
    end = _end(row, _utc(as_of))
    if end <= row.started_at:
        return []
    pauses = _known_pauses(row, end)
    lines: list[TraceLine] = []
    cursor = row.started_at
    for start, stop in calendar.working_intervals(row.started_at, end):
        if start > cursor:
            lines.append(TraceLine(cursor, start, "closed"))
        lines.extend(_split(start, stop, pauses))
        cursor = stop
    if cursor < end:
        lines.append(TraceLine(cursor, end, "closed"))
    return _merged(lines)


def measured_against(row: ClockRow, policy: Policy) -> ClockRow:
    """The row with the targets ``policy`` sets for the same clock and classifications."""

    def rule(channel: str, category: str | None, priority: str) -> Rule:
        return policy.rule_for(row.clock, row.department, channel, category, priority)

    if not row.targets:
        final = rule(row.channel, row.category, row.priority)
        return replace(
            row, target_minutes=final.target_minutes, grace_minutes=final.grace_minutes,
            policy_version=policy.version,
        )  # fmt: skip
    targets = []
    for target in row.targets:
        chosen = rule(target.channel, target.category, target.priority)
        targets.append(
            replace(target, target_minutes=chosen.target_minutes, grace_minutes=chosen.grace_minutes)
        )
    return replace(
        row, targets=tuple(targets), target_minutes=targets[-1].target_minutes,
        grace_minutes=targets[-1].grace_minutes, policy_version=policy.version,
    )  # fmt: skip


# --- evaluating a row -------------------------------------------------------------------------


def _counted_and_paused(
    row: ClockRow, calendar: BusinessCalendar, as_of: datetime
) -> tuple[float, float]:
    """Working minutes counted and paused from the start to the stop (or ``as_of``)."""
    end = _end(row, as_of)
    if not row.pauses:  # the common case needs no trace
        return calendar.working_minutes(row.started_at, end), 0.0
    # What `trace` would count and pause, without its lines: the working time of the union
    # of the pauses (each cut off at the end) taken from the whole (integers, so exact).
    paused, cursor = 0, row.started_at
    for start, stop in _known_pauses(row, end):
        start = max(start, cursor)
        if stop > start:
            paused += calendar.working_microseconds(start, stop)
            cursor = stop
    counted = calendar.working_microseconds(row.started_at, end) - paused
    return counted / 1_000_000 / 60, paused / 1_000_000 / 60


def _status(row: ClockRow, as_of: datetime, remaining: float, risky: float) -> Status:
    if row.stopped_at is not None and row.stopped_at <= as_of:
        return "met" if remaining >= 0 else "breached"
    if any(s <= as_of and (e is None or e > as_of) for s, e in row.pauses):
        return "paused"
    if remaining < 0:
        return "running_breached"
    if remaining <= risky:
        return "at_risk"
    return "running"


def _deadline(
    row: ClockRow, calendar: BusinessCalendar, as_of: datetime, limit: float
) -> datetime:
    """When the counted minutes reach ``limit``, with the pauses known at ``as_of``.

    A pause moves the deadline only if it begins before the deadline it would move. A reopened
    cycle whose earlier cycles used up the budget was due the moment it was reopened.
    """
    budget = max(limit - row.carried_minutes, 0.0)
    due = calendar.add_working_minutes(row.started_at, budget)
    shift = 0.0
    for start, stop in _known_pauses(row, _end(row, as_of)):
        if start >= due:
            break
        shift += calendar.working_minutes(start, stop)
        due = calendar.add_working_minutes(row.started_at, budget + shift)
    return due


def _end(row: ClockRow, as_of: datetime) -> datetime:
    return as_of if row.stopped_at is None else min(row.stopped_at, as_of)


def _known_pauses(row: ClockRow, end: datetime) -> list[tuple[datetime, datetime]]:
    """The pauses begun before ``end``, each cut off at ``end``."""
    ordered = sorted(row.pauses, key=lambda pause: pause[0])
    return [(s, end if e is None else min(e, end)) for s, e in ordered if s < end]


def _split(
    start: datetime, stop: datetime, pauses: Sequence[tuple[datetime, datetime]]
) -> Iterator[TraceLine]:
    """One working interval cut into counted and paused lines."""
    cursor = start
    for pause_start, pause_end in pauses:
        begin, end = max(pause_start, cursor), min(pause_end, stop)
        if begin >= end:
            continue
        if begin > cursor:
            yield TraceLine(cursor, begin, "counted")
        yield TraceLine(begin, end, "paused")
        cursor = end
    if cursor < stop:
        yield TraceLine(cursor, stop, "counted")


def _merged(lines: Iterable[TraceLine]) -> list[TraceLine]:
    merged: list[TraceLine] = []
    for line in lines:
        if merged and merged[-1].kind == line.kind and merged[-1].end == line.start:
            merged[-1] = TraceLine(merged[-1].start, line.end, line.kind)
        else:
            merged.append(line)
    return merged
