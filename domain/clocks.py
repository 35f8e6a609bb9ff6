"""SLA clocks (DESIGN §4): an incident's clocks from its events, and their status as of T."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from domain.calendar import BusinessCalendar, as_utc as _utc
from domain.incident import Incident, in_timeline_order

ClockName = Literal["handover", "escalation_response", "completion_report", "resolution"]
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
class ClockRow:
    """One clock of one incident, as far as its events go; evaluate it with `status_as_of`.

    ``cycle`` counts escalations (escalation_response) or resolution cycles (resolution,
    completion_report). A reopen resumes the resolution clock: the next cycle starts at the
    reopen, and ``carried_minutes`` holds the working minutes counted in the cycles before,
    so the last cycle measures the final resolution against the clock's one target.
    ``pauses`` are sorted, disjoint and inside ``[started_at, stopped_at]``.
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

    @property
    def limit_minutes(self) -> float:
        """Target plus grace: counted working minutes beyond it breach the clock."""
        return self.target_minutes + self.grace_minutes


@dataclass(frozen=True)
class ClockStatus:
    """A clock evaluated as of one moment; minutes are working minutes of its calendar."""

    status: Status
    elapsed_minutes: float
    paused_minutes: float
    deadline: datetime
    remaining_minutes: float


@dataclass(frozen=True)
class TraceLine:
    """One stretch of a clock's time: counted, paused, or closed (outside working hours)."""

    start: datetime
    end: datetime
    kind: LineKind


def compute_clocks(
    events: Sequence[Incident.Event], rules: Rules, policy_version: int | None = None
) -> list[ClockRow]:
    """The clocks of one incident from all its stored events, given in any order.

    Each clock takes the policy in force when it started, or version ``policy_version`` for
    all when given. A standalone thanks, or a stream without its receipt, has no clocks.
    Rows come clock by clock (handover, escalation_response, completion_report, resolution),
    each by cycle.
    """
    ordered = in_timeline_order(events)
    received = next((e for e in ordered if isinstance(e, Incident.Received)), None)
    if received is None:
        return []
    subject = _Subject(received, rules, policy_version)
    return [
        _handover(subject, received),
        *_escalations(subject, ordered),
        *_completions(subject, ordered),
        *_resolutions(subject, ordered),
    ]


def status_as_of(
    row: ClockRow, calendar: BusinessCalendar, as_of: datetime, at_risk: AtRisk
) -> ClockStatus | None:
    """The status of ``row`` as known at ``as_of``; None if it had not started by then.

    Whatever happened after ``as_of`` is ignored: a clock stopped later is running, a pause
    ended later is still on.

    Raises:
        ValueError: a naive ``as_of``.
    """
    as_of = _utc(as_of)
    if as_of < row.started_at:
        return None
    counted, paused = _counted_and_paused(row, calendar, as_of)
    elapsed = row.carried_minutes + counted
    remaining = row.limit_minutes - elapsed
    status = _status(row, as_of, elapsed, remaining, at_risk)
    deadline = _deadline(row, calendar, as_of)
    return ClockStatus(status, elapsed, paused, deadline, remaining)


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


# --- building the rows ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Subject:
    """What every clock of one incident shares, and how a row of it is made."""

    received: Incident.Received
    rules: Rules
    policy_version: int | None

    def row(
        self, clock: ClockName, cycle: int, party: str, started: datetime, stopped: datetime | None,
        *, resolved: Incident.Resolved | None = None, pauses: tuple[Pause, ...] = (),
        carried: float = 0.0, policy_from: datetime | None = None,
    ) -> ClockRow:  # fmt: skip
        received = self.received
        policy = self._policy(policy_from or started)
        rule = policy.rule_for(
            clock, received.department, received.channel, received.category, received.priority
        )
        return ClockRow(
            received.originator_id, clock, cycle, received.department, received.channel,
            received.category, received.priority, received.store, party, self.calendar(clock).name,
            started, stopped, rule.target_minutes, rule.grace_minutes, policy.version, pauses,
            resolved.root_cause if resolved else None, resolved.resolution if resolved else None,
            carried,
        )  # fmt: skip

    def calendar(self, clock: ClockName) -> BusinessCalendar:
        return self.rules.calendar_for(clock, self.received.department, self.received.store)

    def _policy(self, started: datetime) -> Policy:
        if self.policy_version is None:
            return self.rules.policy_at(started)
        return self.rules.policy(self.policy_version)


def _handover(subject: _Subject, received: Incident.Received) -> ClockRow:
    stopped = _utc_of(received.occurred_at)
    # A report time after the receipt is bad upstream data: the clock then takes no time.
    started = min(_utc_of(received.reported_at or received.occurred_at), stopped)
    return subject.row("handover", 1, "source_department", started, stopped)


def _escalations(subject: _Subject, ordered: Sequence[Incident.Event]) -> Iterator[ClockRow]:
    escalations = [(i, e) for i, e in enumerate(ordered) if isinstance(e, Incident.Escalated)]
    for cycle, (index, escalated) in enumerate(escalations, 1):
        answer = next((e for e in ordered[index + 1 :] if isinstance(e, Incident.Resolved)), None)
        stopped = None if answer is None else _utc_of(answer.occurred_at)
        started = _utc_of(escalated.occurred_at)
        yield subject.row("escalation_response", cycle, escalated.escalated_to, started, stopped)


def _completions(subject: _Subject, ordered: Sequence[Incident.Event]) -> Iterator[ClockRow]:
    resolutions = [e for e in ordered if isinstance(e, Incident.Resolved)]
    for cycle, resolved in enumerate(resolutions, 1):
        if resolved.completed_at is None:
            continue
        stopped = _utc_of(resolved.occurred_at)
        # Work reported done after CS was told is bad upstream data: the clock takes no time.
        started = min(_utc_of(resolved.completed_at), stopped)
        yield subject.row("completion_report", cycle, "store", started, stopped, resolved=resolved)


@dataclass
class _Cycle:
    """One resolution cycle while its events are read."""

    number: int
    started: datetime
    carried: float
    pauses: list[Pause] = field(default_factory=list)
    paused_since: datetime | None = None

    def row(
        self, subject: _Subject, stopped: datetime | None, resolved: Incident.Resolved | None
    ) -> ClockRow:
        pauses = list(self.pauses)
        if self.paused_since is not None:
            # A resolution ends the pause it falls in; a pause still on has no end yet.
            pauses.append((self.paused_since, stopped))
        return subject.row(
            "resolution", self.number, "customer_service", self.started, stopped,
            resolved=resolved, pauses=tuple(pauses), carried=self.carried,
            policy_from=_utc_of(subject.received.occurred_at),
        )  # fmt: skip


def _resolutions(subject: _Subject, ordered: Sequence[Incident.Event]) -> Iterator[ClockRow]:
    """Cycle 1 from the receipt to the first resolution, then one cycle per reopen.

    The clock keeps the policy of the receipt and carries its counted minutes across
    cycles; the time between a resolution and its reopen is not counted.
    """
    calendar = subject.calendar("resolution")
    cycle: _Cycle | None = _Cycle(1, _utc_of(subject.received.occurred_at), 0.0)
    number = 1
    last: ClockRow | None = None  # the cycle resolved last
    for event in ordered:
        at = _utc_of(event.occurred_at)
        if cycle is None:
            if isinstance(event, Incident.Reopened) and last is not None:
                # Only a reopen needs the minutes counted so far (calendar work, so lazily).
                counted = _minutes(trace(last, calendar, at), "counted")
                number += 1
                cycle = _Cycle(number, at, last.carried_minutes + counted)
        elif isinstance(event, Incident.Paused) and cycle.paused_since is None:
            cycle.paused_since = at
        elif isinstance(event, Incident.Resumed) and cycle.paused_since is not None:
            cycle.pauses.append((cycle.paused_since, at))
            cycle.paused_since = None
        elif isinstance(event, Incident.Resolved):
            last = cycle.row(subject, at, event)
            yield last
            cycle = None
    if cycle is not None:
        yield cycle.row(subject, None, None)


# --- evaluating a row -------------------------------------------------------------------------


def _counted_and_paused(
    row: ClockRow, calendar: BusinessCalendar, as_of: datetime
) -> tuple[float, float]:
    """Working minutes counted and paused from the start to the stop (or ``as_of``)."""
    if not row.pauses:  # the common case needs no trace
        return calendar.working_minutes(row.started_at, _end(row, as_of)), 0.0
    lines = trace(row, calendar, as_of)
    return _minutes(lines, "counted"), _minutes(lines, "paused")


def _status(
    row: ClockRow, as_of: datetime, elapsed: float, remaining: float, at_risk: AtRisk
) -> Status:
    if row.stopped_at is not None and row.stopped_at <= as_of:
        return "met" if remaining >= 0 else "breached"
    if any(s <= as_of and (e is None or e > as_of) for s, e in row.pauses):
        return "paused"
    if remaining < 0:
        return "running_breached"
    if remaining <= max(at_risk.share * row.limit_minutes, at_risk.minutes):
        return "at_risk"
    return "running"


def _deadline(row: ClockRow, calendar: BusinessCalendar, as_of: datetime) -> datetime:
    """When the counted minutes reach target+grace, with the pauses known at ``as_of``.

    A pause moves the deadline only if it begins before the deadline it would move. A reopened
    cycle whose earlier cycles used up the budget was due the moment it was reopened.
    """
    budget = max(row.limit_minutes - row.carried_minutes, 0.0)
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


def _minutes(lines: Iterable[TraceLine], kind: LineKind) -> float:
    total = sum((line.end - line.start for line in lines if line.kind == kind), timedelta())
    return total.total_seconds() / 60


# --- events and instants ----------------------------------------------------------------------


def _utc_of(text: str) -> datetime:
    return _utc(datetime.fromisoformat(text))
