"""`report sla`'s summary from each clock's outcome as of T: counts by status, compliance and
the exact median and p90 (nearest rank) of the stopped clocks' working minutes."""

from __future__ import annotations

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
    keys = sorted(groups, key=summary_key)
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


def summary_key(key: tuple[str, str]) -> tuple[bool, str, int]:
    """The order of the summary's rows: departments by name, "(all)" last, clocks as defined."""
    return key[0] == "(all)", key[0], CLOCKS.index(key[1])


def summary_row(
    department: str, clock: str, counts: dict[str, int], median: float | None, p90: float | None,
    reopened: int,
) -> Row:  # fmt: skip
    """One row of the summary: ``counts`` by status, the stopped clocks' median and p90
    working minutes, and (for the resolution clock) the incidents reopened."""
    decided = counts["met"] + counts["breached"]
    return {
        "department": department,
        "clock": clock,
        "started": sum(counts.values()),
        **counts,
        "compliance": counts["met"] / decided if decided else None,
        "median_minutes": median,
        "p90_minutes": p90,
        "reopened": reopened if clock == "resolution" else 0,
    }


def p90_rank(count: int) -> int:
    """The 1-based nearest rank of the 90th percentile among ``count`` values: ceil(0.9 n)."""
    return max((9 * count + 9) // 10, 1)


def _summary_row(department: str, clock: str, members: Sequence[Outcome]) -> Row:
    counts = {status: 0 for status in STATUSES}
    for member in members:
        counts[member.status] += 1
    minutes = sorted(m.elapsed_minutes for m in members if m.finished)
    return summary_row(
        department, clock, counts, statistics.median(minutes) if minutes else None,
        minutes[p90_rank(len(minutes)) - 1] if minutes else None, sum(m.cycle > 1 for m in members),
    )  # fmt: skip
