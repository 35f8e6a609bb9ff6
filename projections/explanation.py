"""`incident explain` as a report: every clock of one incident, stretch by stretch, as of T."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.application import Incidents
from domain.attribution import attribution
from domain.calendar import BusinessCalendar
from domain.clocks import ClockRow, TraceLine, status_as_of, trace
from domain.incident import Incident
from domain.incident_clocks import compute_clocks
from domain.sla_rules import SlaRules
from projections.errors import QueryError
from projections.queries import Row
from projections.report import Report, report
from projections.sla_queries import PolicyChoice

ATTRIBUTION_TITLE = "Who held the ball (working minutes)"


def explanation(app: Incidents, rules: SlaRules, incident_id: str, as_of: datetime, policy: PolicyChoice) -> Report:
    """One row per clock (its calendar, policy, stretches, re-targets and status as of
    ``as_of``, instants in the calendar's zone); for a breach, who held the ball as a part.

    Raises:
        QueryError: when the event store has no such incident.
    """
    events = [e for e in app.history(incident_id) if isinstance(e, Incident.Event)]
    if not events:
        raise QueryError(f"no incident '{incident_id}' in the event store")
    version = rules.current.version if policy == "current" else None
    clocks = compute_clocks(events, rules, version)
    rows = [_clock(row, rules, as_of) for row in clocks]
    parts: tuple[Report, ...] = ()
    if any(r["status"] in ("breached", "running_breached") for r in rows):
        shares = sorted(attribution(clocks, rules, as_of).items(), key=lambda item: -item[1])
        parts = (report(ATTRIBUTION_TITLE, [{"party": p, "minutes": m} for p, m in shares]),)
    return report(f"Incident {incident_id} as of {as_of.isoformat()}", rows, parts=parts)


def _clock(row: ClockRow, rules: SlaRules, as_of: datetime) -> Row:
    calendar = rules.calendar(row.calendar)
    zone = ZoneInfo(calendar.timezone)
    status = status_as_of(row, calendar, as_of, rules.at_risk)
    target, grace = row.target_at(as_of if status is not None else row.started_at)
    return {
        "clock": row.clock, "cycle": row.cycle, "party": row.party, "calendar": calendar.name,
        "timezone": calendar.timezone, "policy_version": row.policy_version,
        "target_minutes": target, "grace_minutes": grace,
        "started_at": row.started_at.astimezone(zone),
        "stretches": [] if status is None else [_stretch(line, calendar, zone) for line in trace(row, calendar, as_of)],
        "retargets": [
            {"since": t.since.astimezone(zone), "priority": t.priority, "category": t.category,
             "channel": t.channel, "target_minutes": t.target_minutes, "grace_minutes": t.grace_minutes}
            for t in row.targets[1:] if t.since <= as_of
        ],
        "status": None if status is None else status.status,
        "elapsed_minutes": None if status is None else status.elapsed_minutes,
        "carried_minutes": row.carried_minutes, "limit_minutes": row.limit_minutes,
        "paused_minutes": None if status is None else status.paused_minutes,
        "deadline": None if status is None else status.deadline.astimezone(zone),
    }  # fmt: skip


def _stretch(line: TraceLine, calendar: BusinessCalendar, zone: ZoneInfo) -> Row:
    minutes = None if line.kind == "closed" else round((line.end - line.start).total_seconds() / 60, 2)
    return {
        "from": line.start.astimezone(zone), "to": line.end.astimezone(zone), "kind": line.kind,
        "minutes": minutes, "why": _why(line, calendar, zone),
    }  # fmt: skip


def _why(line: TraceLine, calendar: BusinessCalendar, zone: ZoneInfo) -> str:
    if line.kind == "counted":
        return "working hours"
    if line.kind == "paused":
        return "paused (waiting on the customer or a third party)"
    days = _local_days(line.start, line.end, zone)
    notes = sorted({f"{day:%d %b} {note}" for day in days if (note := calendar.closure(day))})
    return "outside working hours" + (f"; {', '.join(notes)}" if notes else "")


def _local_days(start: datetime, end: datetime, zone: ZoneInfo) -> list[date]:
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
