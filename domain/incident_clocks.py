"""The SLA clocks of one incident, computed from its events (DESIGN §4)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from domain.classification import CUSTOMER_SERVICE
from domain.clock_subject import Stretch, Subject, utc_of
from domain.clocks import ClockRow, Rules, TraceLine, trace
from domain.incident import Incident
from domain.incident_timeline import OrderedIncident, ordered_incident
from domain.ownership import ownership_stretches


def compute_clocks(
    events: Sequence[Incident.Event] | OrderedIncident, rules: Rules,
    policy_version: int | None = None,
) -> list[ClockRow]:  # fmt: skip
    """The clocks of one incident from all its stored events, given in any order (or already
    put in timeline order).

    Each clock takes the policy in force when it started (the resolution clock: at the
    receipt), or version ``policy_version`` for all when given; its target follows the
    incident's classification while it runs. A standalone thanks, or a stream without its
    receipt, has no clocks. Rows come clock by clock (handover, escalation_response,
    completion_report, resolution, ownership), each by cycle.
    """
    timeline = events if isinstance(events, OrderedIncident) else ordered_incident(events)
    history = timeline.classification
    if history is None:
        return []
    ordered, instants = timeline.events, timeline.instants
    index = next(i for i, e in enumerate(ordered) if isinstance(e, Incident.Received))
    received = ordered[index]
    assert isinstance(received, Incident.Received)
    subject = Subject(received, history, rules, policy_version)
    return [
        _handover(subject, received, instants[index]),
        *_escalations(subject, ordered, instants),
        *_completions(subject, ordered, instants),
        *_resolutions(subject, ordered, instants),
        *ownership_stretches(subject, ordered, instants),
    ]


def _handover(subject: Subject, received: Incident.Received, stopped: datetime) -> ClockRow:
    # A report time after the receipt is bad upstream data: the clock then takes no time.
    reported = utc_of(received.reported_at) if received.reported_at else stopped
    started = min(reported, stopped)
    return subject.row("handover", 1, "source_department", started, stopped)


def _escalations(
    subject: Subject, ordered: Sequence[Incident.Event], instants: Sequence[datetime]
) -> Iterator[ClockRow]:
    escalations = [i for i, e in enumerate(ordered) if isinstance(e, Incident.Escalated)]
    for cycle, index in enumerate(escalations, 1):
        escalated = ordered[index]
        assert isinstance(escalated, Incident.Escalated)
        answer = next(
            (i for i in range(index + 1, len(ordered)) if isinstance(ordered[i], Incident.Resolved)),
            None,
        )
        stopped = None if answer is None else instants[answer]
        yield subject.row(
            "escalation_response", cycle, escalated.escalated_to, instants[index], stopped
        )


def _completions(
    subject: Subject, ordered: Sequence[Incident.Event], instants: Sequence[datetime]
) -> Iterator[ClockRow]:
    resolutions = [(e, at) for e, at in zip(ordered, instants) if isinstance(e, Incident.Resolved)]
    for cycle, (resolved, stopped) in enumerate(resolutions, 1):
        if resolved.completed_at is None:
            continue
        # Work reported done after CS was told is bad upstream data: the clock takes no time.
        started = min(utc_of(resolved.completed_at), stopped)
        yield subject.row("completion_report", cycle, "store", started, stopped, resolved=resolved)


def _resolutions(
    subject: Subject, ordered: Sequence[Incident.Event], instants: Sequence[datetime]
) -> Iterator[ClockRow]:
    """Cycle 1 from the receipt to the first resolution, then one cycle per reopen.

    The clock keeps the policy of the receipt and carries its counted minutes across
    cycles; the time between a resolution and its reopen (closed or not) is not counted.
    """
    calendar = subject.calendar("resolution")
    receipt = next(at for e, at in zip(ordered, instants) if e is subject.received)
    cycle: Stretch | None = Stretch(receipt)
    number = 1
    last: ClockRow | None = None  # the cycle resolved last

    def row(cycle: Stretch, stopped: datetime | None, resolved: Incident.Resolved | None) -> ClockRow:
        return subject.row(
            "resolution", number, CUSTOMER_SERVICE, cycle.started, stopped, resolved=resolved,
            pauses=cycle.pauses_until(stopped), carried=cycle.carried, policy_from=receipt,
        )  # fmt: skip

    for event, at in zip(ordered, instants):
        if cycle is None:
            if isinstance(event, Incident.Reopened) and last is not None:
                # Only a reopen needs the minutes counted so far (calendar work, so lazily).
                counted = _counted(trace(last, calendar, at))
                number += 1
                cycle = Stretch(at, last.carried_minutes + counted)
        elif isinstance(event, Incident.Resolved):
            last = row(cycle, at, event)
            yield last
            cycle = None
        else:
            cycle.follow(event, at)
    if cycle is not None:
        yield row(cycle, None, None)


def _counted(lines: Sequence[TraceLine]) -> float:
    return sum((line.end - line.start).total_seconds() for line in lines if line.kind == "counted") / 60
