"""`report sla`'s summary from each clock's outcome as of T: counts by status, compliance and
the exact median and p90 (nearest rank) of the stopped clocks' working minutes."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from domain.sla_rules import CLOCKS
from projections.queries import Row

STATUSES = ("met", "breached", "running", "at_risk", "running_breached", "paused")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the summary needs of one clock as of T (a stopped clock's comes straight from SQL)."""

    incident_id: str
    clock: str
    cycle: int
    department: str
    status: str
    elapsed_minutes: float
    policy_version: int

    @property
    def finished(self) -> bool:
        """Met or breached: stopped by that moment."""
        return self.status in ("met", "breached")


def summarise(outcomes: Iterable[Outcome]) -> list[Row]:
    """Per department and clock: how many started, by status; compliance; working minutes.

    The resolution clock counts once per incident (its latest cycle, which carries the
    minutes of the cycles before a reopen); ``reopened`` counts those incidents reopened.
    Compliance is met / (met + breached); median and p90 are over stopped clocks. With more
    than one department, an "(all)" row per clock follows.
    """
    groups: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for outcome in per_incident_resolution(outcomes):
        groups[outcome.department, outcome.clock].append(outcome)
    departments = {department for department, _ in groups}
    if len(departments) > 1:
        for (_, name), members in list(groups.items()):
            groups["(all)", name].extend(members)
    order = {name: index for index, name in enumerate(CLOCKS)}
    keys = sorted(groups, key=lambda k: (k[0] == "(all)", k[0], order[k[1]]))
    return [_summary_row(department, name, groups[department, name]) for department, name in keys]


def per_incident_resolution(outcomes: Iterable[Outcome]) -> list[Outcome]:
    """The outcomes with the resolution clock reduced to each incident's latest cycle."""
    latest: dict[str, Outcome] = {}
    others = []
    for outcome in outcomes:
        if outcome.clock != "resolution":
            others.append(outcome)
        elif outcome.incident_id not in latest or latest[outcome.incident_id].cycle < outcome.cycle:
            latest[outcome.incident_id] = outcome
    return [*others, *latest.values()]


def policy_versions(outcomes: Iterable[Outcome]) -> list[int]:
    """The policy versions the clocks were measured against."""
    return sorted({outcome.policy_version for outcome in outcomes})


def _summary_row(department: str, clock: str, members: Sequence[Outcome]) -> Row:
    counts = {status: 0 for status in STATUSES}
    for member in members:
        counts[member.status] += 1
    decided = counts["met"] + counts["breached"]
    minutes = sorted(m.elapsed_minutes for m in members if m.finished)
    return {
        "department": department,
        "clock": clock,
        "started": len(members),
        **counts,
        "compliance": counts["met"] / decided if decided else None,
        "median_minutes": statistics.median(minutes) if minutes else None,
        "p90_minutes": nearest_rank(minutes, 0.9) if minutes else None,
        "reopened": sum(m.cycle > 1 for m in members if clock == "resolution"),
    }


def nearest_rank(ordered: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of sorted values."""
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]
