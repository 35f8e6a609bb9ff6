"""The SLA clocks of one incident, computed from its events (DESIGN §4)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from domain.classification import CUSTOMER_SERVICE, classification_history
from domain.clock_subject import Stretch, Subject, utc_of
from domain.clocks import ClockRow, Rules, TraceLine, trace
from domain.incident import Incident, in_timeline_order
from domain.ownership import ownership_stretches


def compute_clocks(
    events: Sequence[Incident.Event], rules: Rules, policy_version: int | None = None
) -> list[ClockRow]:
    """The clocks of one incident from all its stored events, given in any order.

    Each clock takes the policy in force when it started (the resolution clock: at the
    receipt), or version ``policy_version`` for all when given; its target follows the
    incident's classification while it runs. A standalone thanks, or a stream without its
    receipt, has no clocks. Rows come clock by clock (handover, escalation_response,
    completion_report, resolution, ownership), each by cycle.
    """
    ordered = in_timeline_order(events)
    history = classification_history(ordered)
    if history is None:
        return []
    received = next(e for e in ordered if isinstance(e, Incident.Received))
    subject = Subject(received, history, rules, policy_version)
    return [
        _handover(subject, received),
        *_escalations(subject, ordered),
        *_completions(subject, ordered),
        *_resolutions(subject, ordered),
        *ownership_stretches(subject, ordered),
    ]


def _handover(subject: Subject, received: Incident.Received) -> ClockRow:
    stopped = utc_of(received.occurred_at)
    # A report time after the receipt is bad upstream data: the clock then takes no time.
    started = min(utc_of(received.reported_at or received.occurred_at), stopped)
    return subject.row("handover", 1, "source_department", started, stopped)


def _escalations(subject: Subject, ordered: Sequence[Incident.Event]) -> Iterator[ClockRow]:
    escalations = [(i, e) for i, e in enumerate(ordered) if isinstance(e, Incident.Escalated)]
    for cycle, (index, escalated) in enumerate(escalations, 1):
        answer = next((e for e in ordered[index + 1 :] if isinstance(e, Incident.Resolved)), None)
        stopped = None if answer is None else utc_of(answer.occurred_at)
        started = utc_of(escalated.occurred_at)
        yield subject.row("escalation_response", cycle, escalated.escalated_to, started, stopped)


def _completions(subject: Subject, ordered: Sequence[Incident.Event]) -> Iterator[ClockRow]:
    resolutions = [e for e in ordered if isinstance(e, Incident.Resolved)]
    for cycle, resolved in enumerate(resolutions, 1):
        if resolved.completed_at is None:
            continue
        stopped = utc_of(resolved.occurred_at)
        # Work reported done after CS was told is bad upstream data: the clock takes no time.
        started = min(utc_of(resolved.completed_at), stopped)
        yield subject.row("completion_report", cycle, "store", started, stopped, resolved=resolved)


def _resolutions(subject: Subject, ordered: Sequence[Incident.Event]) -> Iterator[ClockRow]:
    """Cycle 1 from the receipt to the first resolution, then one cycle per reopen.

    The clock keeps the policy of the receipt and carries its counted minutes across
    cycles; the time between a resolution and its reopen (closed or not) is not counted.
    """
    calendar = subject.calendar("resolution")
    receipt = utc_of(subject.received.occurred_at)
    cycle: Stretch | None = Stretch(receipt)
    number = 1
    last: ClockRow | None = None  # the cycle resolved last

    def row(cycle: Stretch, stopped: datetime | None, resolved: Incident.Resolved | None) -> ClockRow:
        return subject.row(
            "resolution", number, CUSTOMER_SERVICE, cycle.started, stopped, resolved=resolved,
            pauses=cycle.pauses_until(stopped), carried=cycle.carried, policy_from=receipt,
        )  # fmt: skip

    for event in ordered:
        at = utc_of(event.occurred_at)
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
