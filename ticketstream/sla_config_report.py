"""`ticketstream config check`: the calendars and SLA policies in force, as tables."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from domain.calendar import BusinessCalendar
from domain.sla_rules import SELECTORS, SlaRules

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def print_sla_rules(rules: SlaRules, source: str, console: Console) -> None:
    """Calendars, who uses them, and every policy version with its rules."""
    calendars = Table(title=f"Business calendars ({source})")
    for column in ("calendar", "time zone", "holidays", "weekly hours", "used by"):
        calendars.add_column(column)
    for name, calendar in sorted(rules.calendars.items()):
        calendars.add_row(
            name, calendar.timezone, _holidays(calendar), _week(calendar), _users(rules, name)
        )
    console.print(calendars)
    for policy in rules.policies:
        table = Table(title=f"SLA policy version {policy.version}, from {policy.effective_from.isoformat()}")
        for column in ("clock", *SELECTORS, "target (working min)", "grace (min)"):
            table.add_column(column)
        for rule in policy.rules:
            selectors = [getattr(rule, s) or "any" for s in SELECTORS]
            table.add_row(
                rule.clock, *selectors, f"{rule.target_minutes:g}", f"{rule.grace_minutes:g}"
            )
        console.print(table)


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
