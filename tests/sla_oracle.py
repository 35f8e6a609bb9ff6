"""An independent SLA computation for tests: the default rules of DESIGN §1/§4, minute by minute.

It shares no code with domain/: calendars are re-stated here and working time is counted by
looking at every whole minute (the simulator's timestamps are whole minutes).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays

MOSCOW = ZoneInfo("Europe/Moscow")
MINUTE = timedelta(minutes=1)
_RESOLUTION_TARGET = {"critical": 540, "high": 720}
_OWNERSHIP_TARGET = 1080  # two working days of the holder, whoever holds it
# The departments of the default rules that work on store hours or on office hours; any other
# group works on Customer Service's hours, which are office hours too.
_STORE_DEPARTMENTS = ("retail_store",)


@dataclass(frozen=True)
class OracleClock:
    """One clock as the oracle sees it once everything has happened."""

    incident_id: str
    clock: str
    cycle: int
    department: str
    elapsed: int
    limit: float

    @property
    def breached(self) -> bool:
        return self.elapsed > self.limit


@cache
def _russian_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("RU", years=year))


def _open(minute: datetime, calendar: str) -> bool:
    if calendar == "24/7":
        return True
    local = minute.astimezone(MOSCOW)
    if local.date() in _russian_holidays(local.year):
        return False
    if calendar == "store":
        return 10 <= local.hour < 22
    return local.weekday() < 5 and 9 <= local.hour < 18


def working_minutes(start: datetime, stop: datetime, calendar: str,
                    pauses: Sequence[tuple[datetime, datetime]] = ()) -> int:  # fmt: skip
    """Whole minutes in [start, stop) that are open on ``calendar`` and in no pause."""
    count, minute = 0, start
    while minute < stop:
        if _open(minute, calendar) and not any(s <= minute < e for s, e in pauses):
            count += 1
        minute += MINUTE
    return count


def clocks_of(events: Iterable[dict[str, Any]]) -> list[OracleClock]:
    """Every finished clock of every incident in the wire events (standalone thanks skipped)."""
    by_incident: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        by_incident[str(event["incident_id"])].append(event)
    clocks = []
    for incident_id, stream in by_incident.items():
        # The simulator lists one incident's facts of one instant in the order they happened:
        # a stable sort by instant keeps that order without asking the domain's rules.
        ordered = sorted(stream, key=lambda e: _at(e["occurred_at"]))
        received = next((e for e in ordered if _kind(e) == "received"), None)
        if received is not None:
            clocks.extend(_incident_clocks(incident_id, received, ordered))
    return clocks


def _incident_clocks(incident_id: str, received: dict[str, Any], ordered: list[dict[str, Any]]) -> list[OracleClock]:
    department = str(received["department"])
    clocks = []

    def clock(name: str, cycle: int, elapsed: int, limit: float) -> None:
        clocks.append(OracleClock(incident_id, name, cycle, department, elapsed, limit))

    at_received = _at(received["occurred_at"])
    reported = min(_at(received.get("reported_at") or received["occurred_at"]), at_received)
    handover_calendar = "store" if department == "retail_store" else "office"
    phone = _classified(received, ordered, at_received, "channel") == "phone"
    clock("handover", 1, working_minutes(reported, at_received, handover_calendar), 15 if phone else 180)
    escalations = 0
    for index, event in enumerate(ordered):
        if _kind(event) == "escalated":
            answer = next((e for e in ordered[index + 1:] if _kind(e) == "resolved"), None)
            escalations += 1
            if answer is not None:
                clock("escalation_response", escalations,
                      working_minutes(_at(event["occurred_at"]), _at(answer["occurred_at"]), "24/7"), 1440)
    resolutions = [e for e in ordered if _kind(e) == "resolved"]
    for cycle, resolved in enumerate(resolutions, 1):
        if resolved.get("completed_at"):
            stop = _at(resolved["occurred_at"])
            start = min(_at(resolved["completed_at"]), stop)
            clock("completion_report", cycle, working_minutes(start, stop, "store"), 180)
    clocks.extend(_resolution(incident_id, department, received, ordered))
    clocks.extend(_ownership(incident_id, department, ordered))
    return clocks


def _classified(received: dict[str, Any], ordered: list[dict[str, Any]], at: datetime, name: str) -> str:
    """The incident's ``name`` (channel, priority, category) at ``at``, changes then included."""
    value = str(received[name])
    for event in ordered:
        if _kind(event) == "reclassified" and _at(event["occurred_at"]) <= at and event.get(name):
            value = str(event[name])
    return value


def _ownership(incident_id: str, department: str, ordered: list[dict[str, Any]]) -> list[OracleClock]:
    """Every finished stretch a group held the incident, on its calendar, pauses left out.

    Customer Service receives every incident and holds it until the first reassignment.
    """
    stretches: list[OracleClock] = []
    holder, started = "customer_service", _at(ordered[0]["occurred_at"])
    running: bool = True
    pauses: list[tuple[datetime, datetime]] = []
    paused_since: datetime | None = None

    def close(at: datetime) -> None:
        spans = [*pauses, *([(paused_since, at)] if paused_since is not None else [])]
        if started < at:
            calendar = "store" if holder in _STORE_DEPARTMENTS else "office"
            elapsed = working_minutes(started, at, calendar, spans)
            stretches.append(OracleClock(incident_id, "ownership", len(stretches) + 1, holder, elapsed, _OWNERSHIP_TARGET))
        pauses.clear()

    for event in ordered[1:]:
        kind, at = _kind(event), _at(event["occurred_at"])
        if kind == "reassigned" and event["department"] != holder:
            if running:
                close(at)
                started, paused_since = at, at if paused_since is not None else None
            holder = str(event["department"])
        elif kind == "paused" and running and paused_since is None:
            paused_since = at
        elif kind == "resumed" and running and paused_since is not None:
            pauses.append((paused_since, at))
            paused_since = None
        elif kind == "resolved" and running:
            close(at)
            running, paused_since = False, None
        elif kind == "reopened" and not running:
            running, started = True, at
    return stretches


def _resolution(incident_id: str, department: str, received: dict[str, Any],
                ordered: list[dict[str, Any]]) -> list[OracleClock]:  # fmt: skip
    """The final resolution: counted minutes of every cycle, pauses left out, measured against
    the target of the priority at the final resolution (a reclassification re-targets it)."""
    total, cycle, started = 0, 1, _at(received["occurred_at"])
    pauses: list[tuple[datetime, datetime]] = []
    paused_since: datetime | None = None
    running = True
    for event in ordered:
        kind, at = _kind(event), _at(event["occurred_at"])
        if not running:
            if kind == "reopened":
                running, started, cycle = True, at, cycle + 1
            continue
        if kind == "paused" and paused_since is None:
            paused_since = at
        elif kind == "resumed" and paused_since is not None:
            pauses.append((paused_since, at))
            paused_since = None
        elif kind == "resolved":
            if paused_since is not None:
                pauses.append((paused_since, at))
                paused_since = None
            total += working_minutes(started, at, "office", pauses)
            pauses, running = [], False
    if running:
        return []  # still open: not a finished clock
    final = max(_at(e["occurred_at"]) for e in ordered if _kind(e) == "resolved")
    limit = _RESOLUTION_TARGET.get(_classified(received, ordered, final, "priority"), 1080)
    return [OracleClock(incident_id, "resolution", cycle, department, total, limit)]


def _kind(event: dict[str, Any]) -> str:
    return str(event["type"]).removeprefix("incident.")


def _at(text: Any) -> datetime:
    return datetime.fromisoformat(str(text)).astimezone(UTC)
