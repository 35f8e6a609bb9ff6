"""The quality read model: the facts behind the counter-metrics (CSAT, reopens, first-contact
resolution, escalations), one row per fact, so every figure can be asked as of any moment.

Each row belongs to an incident's month and final department (as in the incident summaries)
and carries its instant in UTC (comparable as text). Like the other per-incident models, a
touched incident's rows are computed again from its whole history in timeline order: a pure
function of its facts, whatever the arrival order or the batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from domain.incident import EVENT_CLASSES, Incident
from domain.incident_timeline import OrderedIncident
from projections.month import month_of
from projections.per_incident import PerIncidentRows
from projections.queries import Period, Row, thanks_rows
from projections.read_model import Cursor, event_topics
from projections.repeat_contacts import DEFAULT_WITHIN_DAYS, repeat_contact_rows

TABLE = "incident_quality"
_CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (incident_id TEXT NOT NULL, month TEXT NOT NULL,"
    " department TEXT NOT NULL, kind TEXT NOT NULL, at_utc TEXT NOT NULL, value TEXT,"
    " minutes DOUBLE PRECISION)"
)
_INDEXES = (
    f"CREATE INDEX IF NOT EXISTS {TABLE}_by_month ON {TABLE} (month, department)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_by_incident ON {TABLE} (incident_id)",
)
# The kinds of rows: received (one per incident), resolved, reopened (minutes since the
# resolution it undoes), rated (value: bad/neutral/good), escalated, reassigned.
_KINDS = {
    Incident.Received: "received", Incident.Resolved: "resolved", Incident.Reopened: "reopened",
    Incident.Rated: "rated", Incident.Escalated: "escalated", Incident.Reassigned: "reassigned",
}  # fmt: skip


@dataclass(frozen=True)
class QualityRow:
    incident_id: str
    month: str
    department: str
    kind: str
    at_utc: str
    value: str | None = None
    minutes: float | None = None


def quality_rows(timeline: OrderedIncident, zone: ZoneInfo) -> list[QualityRow]:
    """The counted facts of one incident in timeline order (none for a standalone thanks)."""
    history = timeline.classification
    received = next((e for e in timeline.events if isinstance(e, Incident.Received)), None)
    if history is None or received is None:
        return []
    month, department = month_of(received.occurred_at, zone), history.final.department
    rows: list[QualityRow] = []
    resolved_at: datetime | None = None
    for event, instant in zip(timeline.events, timeline.instants):
        kind = _KINDS.get(type(event))
        if kind is None or (kind == "reassigned" and instant == timeline.instants[0]):
            continue  # the routing to the first group at the receipt is not a reassignment
        at = instant.astimezone(UTC).isoformat()
        if isinstance(event, Incident.Resolved):
            resolved_at = instant
            rows.append(QualityRow(event.originator_id, month, department, kind, at))
        elif isinstance(event, Incident.Reopened):
            since = None if resolved_at is None else (instant - resolved_at).total_seconds() / 60
            rows.append(QualityRow(event.originator_id, month, department, kind, at, minutes=since))
            resolved_at = None
        elif isinstance(event, Incident.Rated):
            rows.append(QualityRow(event.originator_id, month, department, kind, at, value=event.rating))
        else:
            rows.append(QualityRow(event.originator_id, month, department, kind, at))
    return rows


class IncidentQuality(PerIncidentRows):
    """The incident_quality read model."""

    name = table = TABLE
    tables: tuple[str, ...] = (TABLE,)
    columns = ("incident_id", "month", "department", "kind", "at_utc", "value", "minutes")
    statements = (_CREATE, *_INDEXES)
    topics: tuple[str, ...] = event_topics(*EVENT_CLASSES)  # the timeline needs every fact

    def rows_of(self, timeline: OrderedIncident) -> list[tuple[object, ...]]:
        return [
            (r.incident_id, r.month, r.department, r.kind, r.at_utc, r.value, r.minutes)
            for r in quality_rows(timeline, self.zone)
        ]


def quality_report(
    c: Cursor, period: Period, department: str | None, as_of: datetime, quick_reopen_hours: float
) -> list[Row]:
    """Per month and department, the counter-metrics of the incidents received that month,
    counting the facts that happened by ``as_of``."""
    where, params = "month BETWEEN ? AND ? AND at_utc <= ?", [period.first, period.last, as_of.astimezone(UTC).isoformat()]
    if department is not None:
        where += " AND department = ?"
        params.append(department)
    c.execute(
        f"SELECT incident_id, month, department, kind, value, minutes FROM {TABLE} WHERE {where}"
        " ORDER BY incident_id, at_utc", params,
    )  # fmt: skip
    incidents: dict[str, _Incident] = {}
    for incident_id, month, dept, kind, value, minutes in c.fetchall():
        facts = incidents.setdefault(incident_id, _Incident(month, dept))
        facts.add(kind, value, minutes, quick_reopen_hours * 60)
    groups: dict[tuple[str, str], list[_Incident]] = {}
    for facts in incidents.values():
        if facts.received:
            groups.setdefault((facts.month, facts.department), []).append(facts)
    thanks = {
        (str(r["month"]), dept): r["share"]
        for dept in sorted({d for _, d in groups})
        for r in thanks_rows(c, period, dept)
    }
    repeats = {
        (str(r["month"]), str(r["department"])): r["repeat_share"]
        for r in repeat_contact_rows(c, period, department, DEFAULT_WITHIN_DAYS, as_of)
    }
    return [
        {**_row(month, dept, members), "thanks_share": thanks.get((month, dept)),
         "repeat_contact_rate": repeats.get((month, dept))}
        for (month, dept), members in sorted(groups.items())
    ]  # fmt: skip


@dataclass
class _Incident:
    month: str
    department: str
    received: bool = False
    resolved: bool = False
    reopened: bool = False
    quickly_reopened: bool = False
    escalated: bool = False
    reassigned: bool = False
    rating: str | None = None

    def add(self, kind: str, value: str | None, minutes: float | None, quick_minutes: float) -> None:
        if kind == "received":
            self.received = True
        elif kind == "resolved":
            self.resolved = True
        elif kind == "reopened":
            self.reopened = True
            self.quickly_reopened |= minutes is not None and minutes <= quick_minutes
        elif kind == "rated":
            self.rating = value  # rows come in time order: the last is the latest rating by T
        elif kind == "escalated":
            self.escalated = True
        elif kind == "reassigned":
            self.reassigned = True


def _row(month: str, department: str, members: list[_Incident]) -> Row:
    resolved = [m for m in members if m.resolved]
    ratings = {r: sum(m.rating == r for m in resolved) for r in ("bad", "neutral", "good")}
    rated = sum(ratings.values())
    first_contact = sum(not (m.escalated or m.reassigned or m.reopened) for m in resolved)

    def share(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    return {
        "month": month, "department": department, "incidents": len(members), "resolved": len(resolved),
        "rated_bad": ratings["bad"], "rated_neutral": ratings["neutral"], "rated_good": ratings["good"],
        "bad_share": share(ratings["bad"], rated), "neutral_share": share(ratings["neutral"], rated),
        "good_share": share(ratings["good"], rated), "response_rate": share(rated, len(resolved)),
        "reopen_rate": share(sum(m.reopened for m in resolved), len(resolved)),
        "quick_reopen_rate": share(sum(m.quickly_reopened for m in resolved), len(resolved)),
        "first_contact_resolution": share(first_contact, len(resolved)),
        "escalation_rate": share(sum(m.escalated for m in members), len(members)),
    }  # fmt: skip
