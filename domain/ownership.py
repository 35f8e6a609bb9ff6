"""The ownership clock (the OLA chain): one clock per stretch a department held the incident."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from domain.classification import CUSTOMER_SERVICE
from domain.clock_subject import Stretch, Subject, utc_of
from domain.clocks import ClockRow
from domain.incident import Incident


def ownership_stretches(
    subject: Subject, ordered: Sequence[Incident.Event], instants: Sequence[datetime] | None = None
) -> list[ClockRow]:
    """The stretches of one incident's events in timeline order, numbered from 1 (``instants``:
    the events' instants in UTC, when known).

    A stretch runs from the receipt (held by Customer Service) or a reassignment to
    another group, to the next reassignment or resolution, on the holder's calendar, against
    the holder's ownership target; pauses stop it as they stop the resolution clock (a pause
    under way at a reassignment goes on in the next stretch). A reassignment while resolved
    starts no stretch, it only changes the holder; a reopen (closed or not) starts a stretch
    for the holder then; a reassignment to the group already holding it changes nothing.
    A stretch of no time (two changes at one instant) is left out and not numbered.
    """
    chain = _Chain(subject, CUSTOMER_SERVICE)
    at_each = instants or [utc_of(event.occurred_at) for event in ordered]
    for event, at in zip(ordered, at_each):
        if isinstance(event, Incident.Received):
            chain.stretch = Stretch(at)
        elif isinstance(event, Incident.Reassigned):
            chain.hand_over(event.department, at)
        elif isinstance(event, Incident.Resolved):
            chain.end(at, event)
        elif isinstance(event, Incident.Reopened) and chain.stretch is None:
            chain.stretch = Stretch(at)
        elif chain.stretch is not None:
            chain.stretch.follow(event, at)
    if chain.stretch is not None:
        chain.rows.append(chain.row(None, None))
    return chain.rows


@dataclass
class _Chain:
    """The stretches so far, who holds the incident, and the stretch running (None: resolved)."""

    subject: Subject
    holder: str
    stretch: Stretch | None = None
    rows: list[ClockRow] = field(default_factory=list)

    def hand_over(self, holder: str, at: datetime) -> None:
        if holder == self.holder:
            return
        running = self.stretch
        if running is not None:
            self.end(at, None)
            self.stretch = Stretch(at, paused_since=at if running.paused_since is not None else None)
        self.holder = holder

    def end(self, at: datetime, resolved: Incident.Resolved | None) -> None:
        if self.stretch is not None and self.stretch.started < at:
            self.rows.append(self.row(at, resolved))
        self.stretch = None

    def row(self, stopped: datetime | None, resolved: Incident.Resolved | None) -> ClockRow:
        stretch = self.stretch
        assert stretch is not None
        return self.subject.row(
            "ownership", len(self.rows) + 1, self.holder, stretch.started, stopped,
            holder=self.holder, resolved=resolved, pauses=stretch.pauses_until(stopped),
        )  # fmt: skip
