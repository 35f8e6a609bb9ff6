"""`ticketstream incident explain`: every clock of one incident, minute by minute, as of T."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from rich.console import Console

from domain.application import Incidents
from domain.attribution import attribution
from domain.calendar import BusinessCalendar
from domain.clocks import ClockRow, TraceLine, status_as_of, trace
from domain.incident import Incident
from domain.incident_clocks import compute_clocks
from domain.sla_rules import SlaRules
from projections.sla_queries import PolicyChoice
from ticketstream.errors import TicketstreamError
from ticketstream.safe_text import say, text, titled_table


def print_explanation(
    app: Incidents, rules: SlaRules, incident_id: str, as_of: datetime, policy: PolicyChoice,
    console: Console,
) -> None:  # fmt: skip
    """Each clock's calendar, its counted, paused and closed stretches, and its status.

    Raises:
        TicketstreamError: when the event store has no such incident.
    """
    events = [e for e in app.history(incident_id) if isinstance(e, Incident.Event)]
    if not events:
        raise TicketstreamError(f"no incident '{incident_id}' in the event store")
    version = rules.current.version if policy == "current" else None
    rows = compute_clocks(events, rules, version)
    say(console, f"Incident {incident_id} as of {as_of.isoformat()}")
    if not rows:
        say(console, "no SLA clocks: the incident has no receipt (a standalone thanks?)")
        return
    breached = False
    for row in rows:
        breached |= _print_clock(row, rules, as_of, console)
    if breached:
        shares = attribution(rows, rules, as_of)
        table = titled_table("Who held the ball (working minutes)")
        table.add_column("party")
        table.add_column("minutes", justify="right")
        for party, minutes in sorted(shares.items(), key=lambda item: -item[1]):
            table.add_row(text(party), f"{minutes:g}")
        console.print(table)


def _print_clock(row: ClockRow, rules: SlaRules, as_of: datetime, console: Console) -> bool:
    """Print one clock; whether it is breached as of the moment."""
    calendar = rules.calendar(row.calendar)
    zone = ZoneInfo(calendar.timezone)
    status = status_as_of(row, calendar, as_of, rules.at_risk)
    target, grace = row.target_at(as_of if status is not None else row.started_at)
    heading = (
        f"{row.clock} ({'stretch' if row.clock == 'ownership' else 'cycle'} {row.cycle}) —"
        f" {row.party} holds the ball; calendar {calendar.name} ({calendar.timezone});"
        f" policy version {row.policy_version}: target {target:g} + grace {grace:g} working"
        " minutes"
    )
    if status is None:
        say(console, "")
        say(console, heading)
        say(console, f"  not started by then (starts {_local(row.started_at, zone)})")
        return False
    table = titled_table(heading, title_justify="left")
    for column in ("from", "to", "", "working min", "why"):
        table.add_column(column, justify="right" if column == "working min" else "left")
    for line in trace(row, calendar, as_of):
        minutes = "" if line.kind == "closed" else f"{_minutes(line):g}"
        cells = (
            _local(line.start, zone), _local(line.end, zone), line.kind, minutes,
            _why(line, calendar, zone),
        )  # fmt: skip
        table.add_row(*(text(cell) for cell in cells))
    console.print(table)
    for change in row.targets[1:]:
        if change.since <= as_of:
            say(
                console,
                f"  re-targeted {_local(change.since, zone)} (priority {change.priority},"
                f" category {change.category or '-'}, channel {change.channel}): target"
                f" {change.target_minutes:g} + grace {change.grace_minutes:g}, minutes so far kept",
            )
    carried = f" (incl. {row.carried_minutes:g} from earlier cycles)" if row.carried_minutes else ""
    say(
        console,
        f"  status {status.status}: {status.elapsed_minutes:g}{carried} of"
        f" {row.limit_minutes:g} working minutes, {status.paused_minutes:g} paused;"
        f" deadline {_local(status.deadline, zone)}",
    )
    return status.status in ("breached", "running_breached")


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


def _minutes(line: TraceLine) -> float:
    return round((line.end - line.start).total_seconds() / 60, 2)


def _local(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).strftime("%a %Y-%m-%d %H:%M")
