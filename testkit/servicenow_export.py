"""Seeded, realistic ServiceNow incident audit exports, in the layout of the public enriched log.

Each incident is a walk through ServiceNow's states, one row per update, grouped by incident:
opened as New or Active (now and then already Resolved), assigned and reassigned between
groups, paused while awaiting the user, a vendor, a problem or evidence, reclassified, resolved,
reopened, closed; a few rows carry the unknown state ``-100``. Like real exports, many updates
share a minute, some update times run backwards between nodes, a few rows are listed out of
sys_mod_count order and, if asked, some rows are duplicated. The counters move exactly with
what they count (reassignment_count with each change of group, reopen_count with each
reopen), so counting the CSV and counting the imported events must agree.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from random import Random
from typing import IO

from producers.servicenow_export import COLUMNS

Row = dict[str, str]
AWAITING = ("Awaiting User Info", "Awaiting Vendor", "Awaiting Problem", "Awaiting Evidence")
CONTACT_TYPES = (
    ("Phone", 90), ("Email", 4), ("Self service", 4), ("IVR", 1), ("Direct opening", 1),
)  # fmt: skip
LEVELS = ("1 - High", "2 - Medium", "3 - Low")
# ServiceNow's priority from impact and urgency (1 = high … 3 = low).
_PRIORITY = {2: "1 - Critical", 3: "2 - High", 4: "3 - Moderate", 5: "4 - Low", 6: "4 - Low"}


@dataclass(frozen=True)
class ExportSpec:
    """How many incidents from when, and how messy their rows are (shares of rows)."""

    incidents: int = 1000
    seed: int = 1
    start: datetime = datetime(2016, 2, 29, 1, 16)
    days: int = 120
    same_minute_share: float = 0.2
    backwards_share: float = 0.05
    swapped_share: float = 0.02
    duplicate_share: float = 0.0
    unknown_state_share: float = 0.01


def write_export(spec: ExportSpec, stream: IO[str]) -> int:
    """Write the export as CSV with its header line; return how many rows were written."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for row in export_rows(spec):
        writer.writerow([row[name] for name in COLUMNS])
        count += 1
    return count


def export_rows(spec: ExportSpec) -> Iterator[Row]:
    """The export's rows, incident by incident (numbers rising with opening time)."""
    rng = Random(spec.seed)
    mean_gap = spec.days * 24 * 60 / max(spec.incidents, 1)
    opened = spec.start
    for index in range(spec.incidents):
        opened += timedelta(minutes=int(rng.expovariate(1 / mean_gap)))
        rows = _Walk(rng, spec, f"INC{index + 1:07d}", opened).rows()
        yield from _as_listed(rows, rng, spec)


def _as_listed(rows: list[Row], rng: Random, spec: ExportSpec) -> Iterator[Row]:
    """The rows as the export lists them: a few swapped with the next, some written twice."""
    for i in range(len(rows) - 1):
        if rng.random() < spec.swapped_share:
            rows[i], rows[i + 1] = rows[i + 1], rows[i]
    for row in rows:
        yield row
        if rng.random() < spec.duplicate_share:
            yield dict(row)


def _time(instant: datetime) -> str:
    return f"{instant.day}/{instant.month}/{instant.year} {instant:%H:%M}"


def _choice(rng: Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


@dataclass
class _Walk:
    """One incident's rows, made by walking it through its states."""

    rng: Random
    spec: ExportSpec
    number: str
    opened: datetime
    current: Row = field(default_factory=dict)
    clock: datetime = field(init=False)
    mods: int = 0
    made: list[Row] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.clock = self.opened
        self.current = self._static()

    def rows(self) -> list[Row]:
        first = self.rng.choices(["New", "Active", "Resolved"], weights=[70, 28, 2])[0]
        self._row(first, minutes=self.rng.choice([0, 0, 1, 5]))
        if first != "Resolved":
            self._work()
        self._after_resolution()
        return self.made

    def _work(self) -> None:
        """Updates while open, then a resolution (now and then a closure without one)."""
        for _ in range(self.rng.choice([0, 1, 1, 2, 2, 3, 4, 6])):
            self._update()
        if self.rng.random() < 0.04:
            return  # still open when the export was taken
        if self.rng.random() < 0.02:
            self._row("Closed", minutes=self._gap(), active="false")
            return
        self._row("Resolved", minutes=self._gap())

    def _after_resolution(self) -> None:
        while self.current["incident_state"] in ("Resolved", "Closed"):
            roll = self.rng.random()
            if roll < 0.02 and self.current["incident_state"] == "Resolved":
                self._row("Resolved", minutes=self._gap(), **self._new_group())
            elif roll < 0.08:
                reopens = str(int(self.current["reopen_count"]) + 1)
                self._row("Active", minutes=self._gap(), reopen_count=reopens, active="true")
                self._work()
            elif self.current["incident_state"] == "Resolved" and roll < 0.93:
                self._row("Closed", minutes=self.rng.randint(60, 7 * 24 * 60), active="false")
            else:
                return

    def _update(self) -> None:
        roll, state = self.rng.random(), self.current["incident_state"]
        if roll < self.spec.unknown_state_share:
            self._row("-100", minutes=self._gap())
            self._row(state if state != "-100" else "Active", minutes=self._gap())
        elif roll < 0.25:
            self._row("Active", minutes=self._gap(), **self._new_group())
        elif roll < 0.40 and not state.startswith("Awaiting"):
            self._row(self.rng.choice(AWAITING), minutes=self._gap())
        elif roll < 0.45 and state.startswith("Awaiting"):
            others = [a for a in AWAITING if a != state]
            self._row(self.rng.choice(others), minutes=self._gap())
        elif roll < 0.50:
            self._row("Active", minutes=self._gap(), priority=self._priority())
        elif roll < 0.56:
            category = f"Category {self.rng.randint(1, 60)}"
            self._row("Active", minutes=self._gap(), category=category)
        else:
            assignee = f"Resolver {self.rng.randint(1, 230)}"
            self._row("Active", minutes=self._gap(), assigned_to=assignee)

    def _new_group(self) -> Row:
        group = self.current["assignment_group"]
        while group == self.current["assignment_group"]:
            group = f"Group {self.rng.randint(1, 78)}"
        count = str(int(self.current["reassignment_count"]) + 1)
        assignee = f"Resolver {self.rng.randint(1, 230)}"
        return {"assignment_group": group, "reassignment_count": count, "assigned_to": assignee}

    def _gap(self) -> int:
        if self.rng.random() < self.spec.same_minute_share:
            return 0
        return 1 + int(self.rng.expovariate(1 / 240))

    def _priority(self) -> str:
        impact, urgency = self.rng.randint(1, 3), self.rng.randint(1, 3)
        return _PRIORITY[impact + urgency]

    def _row(self, state: str, minutes: int, **changes: str) -> None:
        self.clock += timedelta(minutes=minutes)
        updated = self.clock
        if self.made and self.rng.random() < self.spec.backwards_share:
            updated -= timedelta(minutes=self.rng.randint(1, 30))  # another node's clock
        self.current = {
            **self.current, **changes, "incident_state": state, "sys_mod_count": str(self.mods),
            "sys_updated_at": _time(updated),
            "sys_updated_by": f"Updated by {self.rng.randint(1, 900)}",
        }  # fmt: skip
        self.mods += self.rng.choice([1, 1, 1, 1, 1, 1, 1, 1, 1, 2])
        self.made.append(self.current)
        if state in ("Resolved", "Closed"):
            self._finish(state)

    def _finish(self, state: str) -> None:
        """Like the enriched log, every row carries the incident's final closure fields."""
        code = self.current["closed_code"]
        if code == "?":
            code = f"code {min(17, 1 + int(self.rng.expovariate(1 / 4)))}"
        resolver = self.current["resolved_by"]
        if resolver == "?":
            resolver = f"Resolved by {self.rng.randint(1, 220)}"
        for row in self.made:
            row.update(closed_code=code, resolved_by=resolver)
            row[f"{state.lower()}_at"] = _time(self.clock)

    def _static(self) -> Row:
        rng = self.rng
        impact, urgency = rng.choices(LEVELS, weights=[5, 90, 5], k=2)
        return {
            "number": self.number, "incident_state": "New", "active": "true",
            "reassignment_count": "0", "reopen_count": "0", "sys_mod_count": "0",
            "made_sla": rng.choice(["true"] * 9 + ["false"]),
            "caller_id": f"Caller {rng.randint(1, 5000)}",
            "opened_by": f"Opened by {rng.randint(1, 210)}", "opened_at": _time(self.opened),
            "sys_created_by": rng.choice([f"Created by {rng.randint(1, 200)}", "?"]),
            "sys_created_at": rng.choice([_time(self.opened), "?"]),
            "sys_updated_by": "", "sys_updated_at": "",
            "contact_type": _choice(rng, CONTACT_TYPES),
            "location": f"Location {rng.randint(1, 230)}",
            "category": f"Category {rng.randint(1, 60)}",
            "subcategory": f"Subcategory {rng.randint(1, 250)}",
            "u_symptom": rng.choice([f"Symptom {rng.randint(1, 520)}", "?"]),
            "cmdb_ci": rng.choice(["?"] * 9 + [f"Configuration item {rng.randint(1, 50)}"]),
            "impact": impact, "urgency": urgency,
            "priority": _PRIORITY[int(impact[0]) + int(urgency[0])],
            "assignment_group": f"Group {rng.randint(1, 78)}",
            "assigned_to": rng.choice(["?", f"Resolver {rng.randint(1, 230)}"]),
            "knowledge": rng.choice(["true", "false", "false"]),
            "u_priority_confirmation": rng.choice(["true", "false"]),
            "notify": rng.choice(["Do Not Notify"] * 49 + ["Send Email"]),
            "problem_id": rng.choice(["?"] * 19 + [f"Problem ID  {rng.randint(1, 250)}"]),
            "rfc": rng.choice(["?"] * 49 + [f"CHG000{rng.randint(1000, 9999)}"]),
            "vendor": rng.choice(["?"] * 99 + ["Vendor 1"]), "caused_by": "?",
            "closed_code": "?", "resolved_by": "?", "resolved_at": "?", "closed_at": "?",
        }  # fmt: skip
