"""Who held the ball: an incident's working minutes attributed to the parties (DESIGN §4)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from domain.clocks import ClockRow, Rules, TraceLine, status_as_of, trace

Span = tuple[datetime, datetime]
PAUSED = "paused"


def attribution(rows: Sequence[ClockRow], rules: Rules, as_of: datetime) -> dict[str, float]:
    """Working minutes per party from the customer's report to the resolution (as of ``as_of``).

    The handover's minutes belong to the source department (on its calendar). The resolution
    clock's counted minutes (on Customer Service's calendar, over every cycle) belong to whoever
    held the ball meanwhile: the party an escalation went to until its answer, the store from
    work done until Customer Service was told, otherwise the department holding the incident
    then (its ownership stretch); its paused minutes are reported as ``paused``. Parties with
    no minutes are left out.
    """
    minutes: dict[str, float] = {}
    for row in rows:
        if row.clock == "handover" and row.started_at <= as_of:
            status = status_as_of(row, rules.calendar(row.calendar), as_of, rules.at_risk)
            if status is not None:
                _add(minutes, row.party, status.elapsed_minutes)
    # Listed first, escalations and store completions win over the holding department.
    holders = [
        (row.party, (row.started_at, min(row.stopped_at or as_of, as_of)))
        for clock in ("escalation_response", "completion_report", "ownership")
        for row in rows
        if row.clock == clock and row.started_at < as_of
    ]
    for row in rows:
        if row.clock != "resolution" or row.started_at > as_of:
            continue
        for line in trace(row, rules.calendar(row.calendar), as_of):
            if line.kind == "paused":
                _add(minutes, PAUSED, _length(line.start, line.end))
            elif line.kind == "counted":
                for party, length in _split_by_holder(line, holders, row.party):
                    _add(minutes, party, length)
    return {party: round(m, 2) for party, m in minutes.items() if m > 0}


def _split_by_holder(
    line: TraceLine, holders: Sequence[tuple[str, Span]], default: str
) -> Iterable[tuple[str, float]]:
    """The line's minutes per holder; the first listed holder wins where holders overlap."""
    cuts = sorted(
        {line.start, line.end}
        | {t for _, span in holders for t in span if line.start < t < line.end}
    )
    for start, end in zip(cuts, cuts[1:]):
        holder = next((p for p, (s, e) in holders if s <= start and end <= e), default)
        yield holder, _length(start, end)


def _add(minutes: dict[str, float], party: str, amount: float) -> None:
    minutes[party] = minutes.get(party, 0.0) + amount


def _length(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 60
