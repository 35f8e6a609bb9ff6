"""Counting an export as an analyst would, straight from its rows (independent of the mapping).

Per incident: the month it was opened (in the reporting time zone), whether any row is
Resolved or Closed, its final reopen_count and reassignment_count (their largest values), and
the closed_code of its last Resolved or Closed row by sys_mod_count (``?`` = no root cause).
Rows without a number, a sys_mod_count or a readable opened_at cannot be counted and are not.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from producers.servicenow_export import MISSING, parse_time

NO_ROOT_CAUSE = "(none)"
_DONE = ("resolved", "closed")


@dataclass
class MonthTally:
    """What one month's incidents add up to in the export."""

    incidents: int = 0
    resolved: int = 0
    reopened: int = 0
    reassignments: int = 0
    root_causes: Counter[str] = field(default_factory=Counter)


@dataclass
class _Incident:
    month: str
    resolved: bool = False
    reopens: int = 0
    reassignments: int = 0
    last_done: int = -1
    root_cause: str = NO_ROOT_CAUSE


@dataclass
class ExportTally:
    """Per-month counts of an export, and how many rows could not be counted."""

    months: dict[str, MonthTally] = field(default_factory=dict)
    uncounted_rows: int = 0


def tally_export(lines: Iterable[str], import_zone: ZoneInfo, report_zone: ZoneInfo) -> ExportTally:
    """Count the export's incidents per month of opening (``lines`` is the CSV text)."""
    incidents: dict[str, _Incident] = {}
    tally = ExportTally()
    for row in csv.DictReader(lines):
        if not _count_row(row, incidents, import_zone, report_zone):
            tally.uncounted_rows += 1
    for incident in incidents.values():
        month = tally.months.setdefault(incident.month, MonthTally())
        month.incidents += 1
        month.reopened += incident.reopens
        month.reassignments += incident.reassignments
        if incident.resolved:
            month.resolved += 1
            month.root_causes[incident.root_cause] += 1
    return tally


def _count_row(
    row: dict[str, str], incidents: dict[str, _Incident], import_zone: ZoneInfo,
    report_zone: ZoneInfo,
) -> bool:  # fmt: skip
    number, opened = row.get("number"), parse_time(row.get("opened_at") or "", import_zone)
    counters = ("sys_mod_count", "reopen_count", "reassignment_count")
    mods, reopens, moves = (row.get(name) or "" for name in counters)
    broken = None in row or None in row.values()  # more or fewer cells than the header
    if broken or not number or number == MISSING or opened is None or not mods.isdigit():
        return False
    local = opened.astimezone(report_zone)
    incident = incidents.setdefault(number, _Incident(f"{local.year:04d}-{local.month:02d}"))
    incident.reopens = max(incident.reopens, int(reopens) if reopens.isdigit() else 0)
    incident.reassignments = max(incident.reassignments, int(moves) if moves.isdigit() else 0)
    state = (row.get("incident_state") or "").strip().lower()
    if state in _DONE:
        incident.resolved = True
        if int(mods) > incident.last_done:
            code = (row.get("closed_code") or "").strip()
            incident.last_done = int(mods)
            incident.root_cause = code if code not in ("", MISSING) else NO_ROOT_CAUSE
    return True
