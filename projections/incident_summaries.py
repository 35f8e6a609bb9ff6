"""Incident summaries: one row per incident, its outcome and final classification, from its events.

Like the SLA clocks, a touched incident's row is computed again from its whole history in
timeline order, so the row is a pure function of the incident's facts: rebuilding, splitting
the batches differently or receiving the facts in another order gives the same row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.classification import classification_history
from domain.incident import EVENT_CLASSES, Incident, in_timeline_order
from projections.month import month_of
from projections.read_model import Cursor, event_topics
from projections.touched_histories import HistoryLoader, touched_histories

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
_CHUNK = 500


@dataclass(frozen=True)
class IncidentSummary:
    """One incident as the reports see it (instants as stored: RFC 3339 with their offset).

    ``department`` is the source department; channel, category, priority and ``holder`` (the
    group holding it) are the final ones. ``status`` is open, paused, resolved or closed;
    ``root_cause`` and ``resolution`` are those of the last resolution, ``rating`` the latest.
    ``closed_at`` is the last closure, even if a reopen followed (``status`` says).
    """

    incident_id: str
    source: str
    month: str
    department: str
    channel: str
    category: str | None
    priority: str
    holder: str
    status: str
    received_at: str
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


COLUMNS = tuple(IncidentSummary.__dataclass_fields__)


def summarise(ordered: Sequence[Incident.Event], zone: ZoneInfo) -> IncidentSummary | None:
    """The summary of one incident's events in timeline order; None for a standalone thanks."""
    history = classification_history(ordered)
    received = next((e for e in ordered if isinstance(e, Incident.Received)), None)
    if history is None or received is None:
        return None
    final = history.final
    tally = _Tally(datetime.fromisoformat(received.occurred_at), received.sequence)
    for event in ordered:
        tally.add(event)
    return IncidentSummary(
        received.originator_id, received.source, month_of(received.occurred_at, zone),
        final.department, final.channel, final.category, final.priority, final.holder,
        tally.status, received.occurred_at, tally.first_resolved_at, tally.last_resolved_at,
        tally.closed_at, tally.resolutions, tally.reopens, tally.reassignments,
        tally.reclassifications, tally.root_cause, tally.resolution, tally.rating,
    )  # fmt: skip


@dataclass
class _Tally:
    """What an incident's events add up to, folded in timeline order."""

    received_at: datetime
    received_sequence: int | None
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

    def add(self, event: Incident.Event) -> None:
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
            self.reassignments += not self._routing(event)
        elif isinstance(event, Incident.Reclassified):
            self.reclassifications += 1
        elif isinstance(event, Incident.Rated):
            self.rating = event.rating


    def _routing(self, event: Incident.Reassigned) -> bool:
        """Whether it hands the incident to its first group as part of the receipt (same
        instant, same sequence): a routing, not a reassignment (ServiceNow counts neither)."""
        same_instant = datetime.fromisoformat(event.occurred_at) == self.received_at
        return same_instant and event.sequence == self.received_sequence


class IncidentSummaries:
    """The incident_summaries read model: one row per incident (standalone thanks have none)."""

    name = "incident_summaries"
    # Every topic: the timeline order of an incident's facts depends on all of them, so the
    # batch must hold the same facts as the stored history it stands in for.
    topics: tuple[str, ...] = event_topics(*EVENT_CLASSES)
    tables: tuple[str, ...] = ("incident_summaries",)

    def __init__(self, load_histories: HistoryLoader, zone: ZoneInfo) -> None:
        self.load_histories = load_histories
        self.zone = zone

    def create_tables(self, c: Cursor) -> None:
        c.execute(_CREATE)
        c.execute(_INDEX)

    def process(self, c: Cursor, events: Sequence[Incident.Event]) -> None:
        histories, begun_earlier = touched_histories(events, self.load_histories)
        summaries = [summarise(in_timeline_order(h), self.zone) for h in histories.values()]
        # Rows exist only for incidents begun before this batch (its position commits with them).
        for start in range(0, len(begun_earlier), _CHUNK):
            chunk = begun_earlier[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            c.execute(f"DELETE FROM incident_summaries WHERE incident_id IN ({marks})", chunk)
        c.executemany(
            f"INSERT INTO incident_summaries ({', '.join(COLUMNS)})"
            f" VALUES ({', '.join('?' * len(COLUMNS))})",
            [astuple(s) for s in summaries if s is not None],
        )
