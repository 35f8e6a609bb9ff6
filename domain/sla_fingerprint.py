"""A fingerprint of the SLA rules: equal for rules under which every clock comes out the same."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC
from hashlib import sha256

from domain.calendar import BusinessCalendar, Hours
from domain.sla_rules import PolicyVersion, SlaRules


def rules_fingerprint(rules: SlaRules) -> str:
    """16 hex digits over what a stored clock depends on.

    That is the calendars, which calendar each department and store works on, Customer
    Service's calendar and every policy version. The at-risk rule is left out on purpose: it
    is applied when a report is asked for, never stored, so changing it needs no rebuild.
    Two definitions that mean the same (keys in another order, an effective_from written with
    another offset) have the same fingerprint.
    """
    described = {
        "calendars": {name: _calendar(c) for name, c in sorted(rules.calendars.items())},
        "department_calendars": dict(sorted(rules.department_calendars.items())),
        "store_calendars": dict(sorted(rules.store_calendars.items())),
        "customer_service_calendar": rules.customer_service_calendar,
        "policies": [_policy(policy) for policy in rules.policies],
    }
    text = json.dumps(described, sort_keys=True, separators=(",", ":"))
    return sha256(text.encode()).hexdigest()[:16]


def _calendar(calendar: BusinessCalendar) -> dict[str, object]:
    return {
        "timezone": calendar.timezone,
        "weekly_hours": _hours(calendar.weekly_hours.items()),
        "holidays": [calendar.holiday_country, calendar.holiday_subdivision],
        "closed_days": sorted(day.isoformat() for day in calendar.closed_days),
        "open_days": _hours(calendar.open_days.items()),
    }


def _hours(hours: Iterable[tuple[object, Hours]]) -> dict[str, list[list[str]]]:
    return {
        str(day): [[start.isoformat(), end.isoformat()] for start, end in intervals]
        for day, intervals in hours
    }


def _policy(policy: PolicyVersion) -> dict[str, object]:
    return {
        "version": policy.version,
        "effective_from": policy.effective_from.astimezone(UTC).isoformat(),
        "rules": [
            [
                rule.clock, rule.target_minutes, rule.grace_minutes, rule.department,
                rule.channel, rule.category, rule.priority,
            ]  # fmt: skip
            for rule in policy.rules
        ],
    }
