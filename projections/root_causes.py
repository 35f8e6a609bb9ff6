"""Reasons for long service (DESIGN §4): breached resolutions by root cause, with a Pareto."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from projections.errors import QueryError
from projections.queries import Row
from projections.sla_queries import EvaluatedClock, per_incident_resolution

ROOT_CAUSE_DIMENSIONS = ("root_cause", "category")
UNSPECIFIED = "(unspecified)"


def root_causes(
    clocks: Sequence[EvaluatedClock], by: str = "root_cause", monthly: bool = False
) -> list[Row]:
    """Reasons for long service: among resolved incidents whose resolution breached, counts
    per ``by`` with shares and the Pareto cumulative share, beside all resolved incidents.

    An incident counts by its final resolution as of the moment (the latest cycle, stopped).

    Raises:
        QueryError: ``by`` is not root_cause or category.
    """
    if by not in ROOT_CAUSE_DIMENSIONS:
        raise QueryError(f"cannot group by '{by}'; choose {' or '.join(ROOT_CAUSE_DIMENSIONS)}")
    resolved = [
        c for c in per_incident_resolution(clocks) if c.row.clock == "resolution" and c.finished
    ]
    by_month: dict[str, list[EvaluatedClock]] = defaultdict(list)
    for clock in resolved:
        by_month[clock.month if monthly else ""].append(clock)
    rows = []
    for month in sorted(by_month):
        for row in _pareto(by_month[month], by):
            rows.append({"month": month, **row} if monthly else row)
    return rows


def _pareto(resolved: Sequence[EvaluatedClock], by: str) -> list[Row]:
    all_counts: dict[str, int] = defaultdict(int)
    breached_counts: dict[str, int] = defaultdict(int)
    for clock in resolved:
        value = getattr(clock.row, by) or UNSPECIFIED
        all_counts[value] += 1
        if clock.status.status == "breached":
            breached_counts[value] += 1
    total_breached, total = sum(breached_counts.values()), len(resolved)
    order = sorted(all_counts, key=lambda v: (-breached_counts[v], -all_counts[v], v))
    rows, cumulative = [], 0
    for value in order:
        cumulative += breached_counts[value]
        rows.append({
            by: value,
            "breached": breached_counts[value],
            "share": _share(breached_counts[value], total_breached),
            "cumulative_share": _share(cumulative, total_breached),
            "resolved": all_counts[value],
            "resolved_share": _share(all_counts[value], total),
            "breach_rate": _share(breached_counts[value], all_counts[value]),
        })  # fmt: skip
    return rows


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
