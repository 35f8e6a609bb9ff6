"""The SLA reports as of T: the summary, the clock list, root causes and the at-risk list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from domain.sla_rules import SlaRules
from projections import root_causes, sla_queries, sla_window
from projections.errors import QueryError
from projections.queries import Period, Row
from projections.read_model import Cursor
from projections.sla_queries import ClockFilter, EvaluatedClock, PolicyChoice
from projections.sla_summary import STATUSES, policy_versions, summarise

EVERY_MONTH = Period("0000-01", "9999-12")


@dataclass(frozen=True)
class SlaQuestion:
    """What an SLA report is asked: which clocks, as of when, under which policy."""

    which: ClockFilter
    as_of: datetime
    policy: PolicyChoice = "started"


def sla_rows(
    c: Cursor, rules: SlaRules, question: SlaQuestion, status: str | None, listing: bool
) -> tuple[list[Row], str]:
    """The rows of `report sla` (summary, or one per clock with ``listing``) and their title.

    Raises:
        QueryError: an unknown status.
    """
    if status is not None and status not in STATUSES:
        raise QueryError(f"unknown status '{status}'; statuses: {', '.join(STATUSES)}")
    kind = "clocks" if listing else "summary"
    if listing or question.policy != "started":
        clocks = sla_window.evaluated_in_window(c, question.which, rules, question.as_of, question.policy)
        clocks = [clock for clock in clocks if status is None or clock.status.status == status]
        title = f"SLA {kind}" + subtitle(question, sla_queries.policy_versions(clocks), rules)
        if listing:
            zones = {name: ZoneInfo(calendar.timezone) for name, calendar in rules.calendars.items()}
            return sla_queries.listing(clocks, zones), title
        return sla_queries.summary(clocks), title
    if status is None:
        summarised = sla_window.summary(c, question.which, rules, question.as_of)
        if summarised is not None:
            rows, versions = summarised
            return rows, f"SLA {kind}" + subtitle(question, versions, rules)
    outcomes = sla_window.outcomes(c, question.which, rules, question.as_of)
    outcomes = [o for o in outcomes if status is None or o.status == status]
    return summarise(outcomes), f"SLA {kind}" + subtitle(question, policy_versions(outcomes), rules)


def root_cause_rows(
    c: Cursor, rules: SlaRules, question: SlaQuestion, by: str, monthly: bool
) -> tuple[list[Row], str]:
    """The rows of `report root-causes` and their title."""
    which = question.which
    resolutions = ClockFilter(which.period, which.department, "resolution")
    clocks = sla_window.evaluated_in_window(c, resolutions, rules, question.as_of, question.policy)
    rows = root_causes.root_causes(clocks, by, monthly)
    resolved = sum(row["resolved"] for row in rows)
    breached = sum(row["breached"] for row in rows)
    share = f"{breached / resolved:.1%}" if resolved else "-"
    title = (
        f"Reasons for long service: {breached} of {resolved} resolved incidents breached"
        f" the resolution target ({share})"
        + subtitle(question, sla_queries.policy_versions(clocks), rules)
    )
    return rows, title


def at_risk_rows(
    c: Cursor, rules: SlaRules, question: SlaQuestion, zone: ZoneInfo
) -> tuple[list[Row], str]:
    """Open clocks at risk or breached as of the moment, with time left and when they are due
    (``zone``: the reporting zone, that of the read model's months)."""
    which = ClockFilter(EVERY_MONTH, question.which.department, question.which.clock, open_at=question.as_of)
    stored = sla_window.open_at(c, which, zone)
    clocks = sla_queries.evaluate(stored, rules, question.as_of, question.policy)
    rows = [_at_risk_row(clock, rules, question.as_of) for clock in sla_queries.at_risk(clocks)]
    return rows, "Open clocks at risk or breached" + subtitle(question, sla_queries.policy_versions(clocks), rules)


def when(instant: datetime, as_of: datetime, zone: ZoneInfo) -> str:
    """A deadline as a person says it, in ``zone``: "today 17:30", "tomorrow 10:00",
    "yesterday 09:15" or "Mon 24 Nov 2025 10:00"."""
    local, today = instant.astimezone(zone), as_of.astimezone(zone).date()
    days = (local.date() - today).days
    named = {0: "today", 1: "tomorrow", -1: "yesterday"}.get(days)
    return f"{named or local.strftime('%a %d %b %Y')} {local:%H:%M}"


def _at_risk_row(clock: EvaluatedClock, rules: SlaRules, as_of: datetime) -> Row:
    row, status = clock.row, clock.status
    calendar = rules.calendar(row.calendar)
    zone = ZoneInfo(calendar.timezone)
    left = status.remaining_minutes
    if left < 0:
        due = f"overdue since {when(status.deadline, as_of, zone)}"
    else:
        due = f"breaches {when(status.deadline, as_of, zone)}"
        if not calendar.is_working(as_of):
            opening = calendar.working_intervals(as_of, as_of + timedelta(days=14))
            if opening:
                due += f" ({row.calendar} closed until {when(opening[0][0], as_of, zone)})"
    return {
        "incident_id": row.incident_id,
        "clock": row.clock,
        "cycle": row.cycle,
        "department": row.department,
        "party": row.party,
        "status": status.status,
        "minutes_left": max(left, 0.0),
        "minutes_overdue": max(-left, 0.0),
        "deadline": status.deadline.astimezone(zone).isoformat(),
        "due": due,
    }


def subtitle(question: SlaQuestion, versions_used: list[int], rules: SlaRules) -> str:
    """What a title says of the question: the moment, the policy versions used, the scope."""
    as_of = question.as_of.astimezone(timezone.utc).isoformat(timespec="minutes")
    versions = ", ".join(str(v) for v in versions_used) or "-"
    if question.policy == "current":
        policy = f"today's policy (version {rules.current.version})"
    else:
        policy = f"the policy each clock started under (versions {versions})"
    which = question.which
    scope = []
    if which.period != EVERY_MONTH:
        first = "" if which.period.first == "0000-01" else which.period.first
        scope.append(f"months {first}..{which.period.last}" if first else f"up to {which.period.last}")
    scope += [v for v in (which.department, which.clock) if v]
    return f" — as of {as_of}, under {policy}" + (f", {' '.join(scope)}" if scope else "")
