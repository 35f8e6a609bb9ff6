"""What the SLA commands print: the summary, the list, root causes, at-risk clocks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from domain.sla_rules import SlaRules
from projections import root_causes, sla_queries
from projections.queries import Period, Row
from projections.runner import ProjectionRunner
from projections.sla_clocks import SlaClocks
from projections.sla_queries import ClockFilter, EvaluatedClock, PolicyChoice
from ticketstream.errors import TicketstreamError

_EVERY_MONTH = Period("0000-01", "9999-12")


@dataclass(frozen=True)
class SlaQuestion:
    """What an SLA report is asked: which clocks, as of when, under which policy."""

    which: ClockFilter
    as_of: datetime
    policy: PolicyChoice = "started"


def parse_instant(text: str | None, zone: ZoneInfo, now: datetime) -> datetime:
    """``--as-of``: "now" (the default), RFC 3339 with an offset, or a local date or date-time
    in the reporting time zone (a bare date means the end of that day).

    Raises:
        TicketstreamError: text that is none of these.
    """
    if text is None or text == "now":
        return now
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise TicketstreamError(
            f"'{text}' is not a moment; use RFC 3339 (2025-03-31T18:00:00+03:00),"
            " a local date-time (2025-03-31T18:00) or a date (2025-03-31)"
        ) from None
    if instant.utcoffset() is not None:
        return instant
    if len(text) == 10:  # a date: as of the end of that day
        instant += timedelta(days=1)
    return instant.replace(tzinfo=zone)


def stale_rules(runner: ProjectionRunner) -> str | None:
    """What to say when the SLA read model was computed under other rules than the runner's."""
    model = runner.read_models.get(SlaClocks.name)
    if not isinstance(model, SlaClocks):
        return None
    with runner.transaction(commit=False) as c:
        return model.stale_note(c)


def evaluated(runner: ProjectionRunner, rules: SlaRules, question: SlaQuestion) -> list[EvaluatedClock]:
    """The stored clocks the question is about, evaluated as of its moment."""
    with runner.transaction(commit=False) as c:
        stored = sla_queries.stored_clocks(c, question.which)
    return sla_queries.evaluate(stored, rules, question.as_of, question.policy)


def sla_rows(
    runner: ProjectionRunner, rules: SlaRules, question: SlaQuestion, status: str | None,
    listing: bool,
) -> tuple[list[Row], str]:  # fmt: skip
    """The rows of `report sla` (summary, or one per clock with ``listing``) and their title."""
    clocks = evaluated(runner, rules, question)
    if status is not None:
        if status not in sla_queries.STATUSES:
            known = ", ".join(sla_queries.STATUSES)
            raise TicketstreamError(f"unknown status '{status}'; statuses: {known}")
        clocks = [c for c in clocks if c.status.status == status]
    title = f"SLA {'clocks' if listing else 'summary'}" + _subtitle(question, clocks, rules)
    if listing:
        zones = {name: ZoneInfo(calendar.timezone) for name, calendar in rules.calendars.items()}
        return sla_queries.listing(clocks, zones), title
    return sla_queries.summary(clocks), title


def root_cause_rows(
    runner: ProjectionRunner, rules: SlaRules, question: SlaQuestion, by: str, monthly: bool
) -> tuple[list[Row], str]:
    """The rows of `report root-causes` and their title."""
    which = question.which
    resolutions = ClockFilter(which.period, which.department, "resolution")
    clocks = evaluated(runner, rules, SlaQuestion(resolutions, question.as_of, question.policy))
    rows = root_causes.root_causes(clocks, by, monthly)
    resolved = sum(row["resolved"] for row in rows)
    breached = sum(row["breached"] for row in rows)
    share = f"{breached / resolved:.1%}" if resolved else "-"
    title = (
        f"Reasons for long service: {breached} of {resolved} resolved incidents breached"
        f" the resolution target ({share})" + _subtitle(question, clocks, rules)
    )
    return rows, title


def at_risk_rows(
    runner: ProjectionRunner, rules: SlaRules, question: SlaQuestion
) -> tuple[list[Row], str]:
    """Open clocks at risk or breached as of the moment, with time left and when they are due."""
    which = ClockFilter(
        _EVERY_MONTH, question.which.department, question.which.clock, open_at=question.as_of
    )
    clocks = evaluated(runner, rules, SlaQuestion(which, question.as_of, question.policy))
    rows = [_at_risk_row(clock, rules, question.as_of) for clock in sla_queries.at_risk(clocks)]
    return rows, "Open clocks at risk or breached" + _subtitle(question, clocks, rules)


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


def _subtitle(question: SlaQuestion, clocks: list[EvaluatedClock], rules: SlaRules) -> str:
    as_of = question.as_of.astimezone(timezone.utc).isoformat(timespec="minutes")
    versions = ", ".join(str(v) for v in sla_queries.policy_versions(clocks)) or "-"
    if question.policy == "current":
        policy = f"today's policy (version {rules.current.version})"
    else:
        policy = f"the policy each clock started under (versions {versions})"
    which = question.which
    scope = []
    if which.period != _EVERY_MONTH:
        first = "" if which.period.first == "0000-01" else which.period.first
        scope.append(f"months {first}..{which.period.last}" if first else f"up to {which.period.last}")
    scope += [v for v in (which.department, which.clock) if v]
    return f" — as of {as_of}, under {policy}" + (f", {' '.join(scope)}" if scope else "")
