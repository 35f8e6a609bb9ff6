"""`ticketstream config check`: the calendars and SLA policies in force, as tables."""

from __future__ import annotations

from pathlib import Path

from eventsourcing.persistence import InterfaceError, OperationalError
from rich.console import Console

from domain.calendar import BusinessCalendar
from domain.sla_rules import SELECTORS, SlaRules
from projections.sla_clocks import STALE_RULES, SlaClocks
from ticketstream import assembly
from ticketstream.errors import StoreUnreachable
from ticketstream.event_store import is_postgres
from ticketstream.safe_text import text, titled_table
from ticketstream.settings import Settings

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def print_sla_rules(rules: SlaRules, source: str, console: Console) -> None:
    """Calendars, who uses them, and every policy version with its rules."""
    calendars = titled_table(f"Business calendars ({source})")
    for column in ("calendar", "time zone", "holidays", "weekly hours", "used by"):
        calendars.add_column(column)
    for name, calendar in sorted(rules.calendars.items()):
        row = (name, calendar.timezone, _holidays(calendar), _week(calendar), _users(rules, name))
        calendars.add_row(*(text(cell) for cell in row))
    console.print(calendars)
    for policy in rules.policies:
        table = titled_table(f"SLA policy version {policy.version}, from {policy.effective_from.isoformat()}")
        for column in ("clock", *SELECTORS, "target (working min)", "grace (min)"):
            table.add_column(column)
        for rule in policy.rules:
            selectors = [getattr(rule, s) or "any" for s in SELECTORS]
            cells = (rule.clock, *selectors, f"{rule.target_minutes:g}", f"{rule.grace_minutes:g}")
            table.add_row(*(text(cell) for cell in cells))
        console.print(table)


def read_model_line(settings: Settings, rules: SlaRules) -> str:
    """Whether the SLA read model of the configured event store was computed under ``rules``.

    A missing SQLite file is not created; a database out of reach is said, not an error.
    """
    location = settings.event_store
    if not is_postgres(location) and not Path(location.removeprefix("sqlite:///")).exists():
        return f"SLA read model: none yet (no event store at {location})"
    try:
        side = assembly.read_side(settings)  # read-only
        recorded = side.recorded_fingerprint()
    except (StoreUnreachable, OperationalError, InterfaceError):
        return "SLA read model: not compared (the event store is out of reach)"
    if recorded is None:
        return "SLA read model: not filled yet"
    fingerprint = SlaClocks(rules, side.reader.app.histories, settings.zone).fingerprint
    return f"SLA read model: {'computed under these rules' if recorded == fingerprint else STALE_RULES}"


def _holidays(calendar: BusinessCalendar) -> str:
    if calendar.holiday_country is None:
        return "-"
    return "-".join(p for p in (calendar.holiday_country, calendar.holiday_subdivision) if p)


def _week(calendar: BusinessCalendar) -> str:
    days = []
    for day, label in enumerate(_DAYS):
        hours = calendar.weekly_hours.get(day, ())
        if hours:
            spans = ",".join("all day" if a == b else f"{a:%H:%M}-{b:%H:%M}" for a, b in hours)
            days.append(f"{label} {spans}")
    return "; ".join(days) or "closed"


def _users(rules: SlaRules, name: str) -> str:
    users = [d for d, c in sorted(rules.department_calendars.items()) if c == name]
    users += [f"store {s}" for s, c in sorted(rules.store_calendars.items()) if c == name]
    if rules.customer_service_calendar == name:
        users.insert(0, "Customer Service")
    return ", ".join(users) or "-"
