"""Incident summaries: one row per incident, its outcome and final classification, from its events.

Like the SLA clocks, a touched incident's row is computed again from its whole history in
timeline order, so the row is a pure function of the incident's facts: rebuilding, splitting
the batches differently or receiving the facts in another order gives the same row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from zoneinfo import ZoneInfo

from domain.incident import EVENT_CLASSES, Incident
from domain.incident_timeline import OrderedIncident, ordered_incident
from projections.month import month_of
from projections.read_model import event_topics
from projections.per_incident import PerIncidentRows

_CREATE = (
    "CREATE TABLE IF NOT EXISTS incident_summaries ("
    " incident_id TEXT PRIMARY KEY, source TEXT NOT NULL, month TEXT NOT NULL,"
    " department TEXT NOT NULL, channel TEXT NOT NULL, category TEXT, priority TEXT NOT NULL,"
    " holder TEXT NOT NULL, status TEXT NOT NULL, received_at TEXT NOT NULL,"
    " first_resolved_at TEXT, last_resolved_at TEXT, closed_at TEXT,"
    " resolutions INTEGER NOT NULL, reopens INTEGER NOT NULL, reassignments INTEGER NOT NULL,"
    " reclassifications INTEGER NOT NULL, root_cause TEXT, resolution TEXT, rating TEXT)"
)
_INDEX = "CREATE INDEX IF NOT EXISTS incident_summaries_by_month ON incident_summaries (month)"


@dataclass
class Outcome:
    """What an incident's events add up to, folded in timeline order.

    ``status`` is open, paused, resolved or closed; ``root_cause`` and ``resolution`` are those
    of the last resolution, ``rating`` the latest. ``closed_at`` is the last closure, even if a
    reopen followed (``status`` says). Instants as stored: RFC 3339 with their offset.
    """

    status: str = "open"
    first_resolved_at: str | None = None
    last_resolved_at: str | None = None
    closed_at: str | None = None
    resolutions: int = 0
    reopens: int = 0
    reassignments: int = 0
    reclassifications: int = 0
    root_cause: str | None = None
    resolution: str | None = None
    rating: str | None = None

    def add(self, event: Incident.Event, receipt: Incident.Received) -> None:
        """Fold in the next event of the timeline."""
        if isinstance(event, Incident.Resolved):
            self.status, self.resolutions = "resolved", self.resolutions + 1
            self.first_resolved_at = self.first_resolved_at or event.occurred_at
            self.last_resolved_at = event.occurred_at
            self.root_cause, self.resolution = event.root_cause, event.resolution
        elif isinstance(event, Incident.Closed):
            self.status, self.closed_at = "closed", event.occurred_at
        elif isinstance(event, Incident.Reopened):
            self.status, self.reopens = "open", self.reopens + 1
        elif isinstance(event, (Incident.Paused, Incident.Resumed)):
            self.status = "paused" if isinstance(event, Incident.Paused) else "open"
        elif isinstance(event, Incident.Reassigned):
            self.reassignments += not _routing(event, receipt)
        elif isinstance(event, Incident.Reclassified):
            self.reclassifications += 1
        elif isinstance(event, Incident.Rated):
            self.rating = event.rating


@dataclass(frozen=True)
class IncidentSummary:
    """One incident as the reports see it: who and what it is, and its outcome.

    ``department`` is the source department; channel, category, priority and ``holder`` (the
    group holding it) are the final ones.
    """

    incident_id: str
    source: str
    month: str
    department: str
    channel: str
    category: str | None
    priority: str
    holder: str
    received_at: str
    outcome: Outcome

    def row(self) -> tuple[object, ...]:
        """The values of ``COLUMNS``."""
        return (*_IDENTITY(self), *_OUTCOME(self.outcome))


_IDENTITY_FIELDS = tuple(IncidentSummary.__dataclass_fields__)[:-1]
_IDENTITY = attrgetter(*_IDENTITY_FIELDS)
_OUTCOME = attrgetter(*Outcome.__dataclass_fields__)
COLUMNS = (*_IDENTITY_FIELDS, *Outcome.__dataclass_fields__)


def summarise(
    ordered: Sequence[Incident.Event] | OrderedIncident, zone: ZoneInfo
) -> IncidentSummary | None:
    """The summary of one incident's events in timeline order; None for a standalone thanks."""
    timeline = ordered if isinstance(ordered, OrderedIncident) else ordered_incident(ordered)
    history, events = timeline.classification, timeline.events
    received = next((e for e in events if isinstance(e, Incident.Received)), None)
    if history is None or received is None:
        return None
    final = history.final
    outcome = Outcome()
    for event in events:
        outcome.add(event, received)
    return IncidentSummary(
        received.originator_id, received.source, month_of(received.occurred_at, zone),
        final.department, final.channel, final.category, final.priority, final.holder,
        received.occurred_at, outcome,
    )  # fmt: skip


def _routing(event: Incident.Reassigned, receipt: Incident.Received) -> bool:
    """Whether it hands the incident to its first group as part of the receipt (same instant,
    same sequence): a routing, not a reassignment (ServiceNow counts neither)."""
    same_instant = datetime.fromisoformat(event.occurred_at) == datetime.fromisoformat(
        receipt.occurred_at
    )
    return same_instant and event.sequence == receipt.sequence


class IncidentSummaries(PerIncidentRows):
    """The incident_summaries read model: one row per incident (standalone thanks have none)."""

    name = table = "incident_summaries"
    tables: tuple[str, ...] = (table,)
    columns = COLUMNS
    statements = (_CREATE, _INDEX)
    # Every topic: the timeline order of an incident's facts depends on all of them, so the
    # batch must hold the same facts as the stored history it stands in for.
    topics: tuple[str, ...] = event_topics(*EVENT_CLASSES)

    def rows_of(self, timeline: OrderedIncident) -> list[tuple[object, ...]]:
        summary = summarise(timeline, self.zone)
        return [] if summary is None else [summary.row()]
