"""Per-month counts of incidents and their outcomes, from the incident_summaries read model."""

from __future__ import annotations

from projections.queries import Period, Row
from projections.read_model import Cursor

# A root cause the last resolution did not name.
NO_ROOT_CAUSE = "(none)"


def monthly_counts(c: Cursor, period: Period, source: str | None = None) -> list[Row]:
    """Per month of receipt: incidents, those resolved at least once, reopens, reassignments."""
    where, params = _filters(period, source)
    c.execute(
        "SELECT month, COUNT(*), SUM(CASE WHEN resolutions > 0 THEN 1 ELSE 0 END),"
        " SUM(reopens), SUM(reassignments) FROM incident_summaries"
        f" WHERE {where} GROUP BY month ORDER BY month",
        params,
    )
    return [
        {"month": m, "incidents": n, "resolved": int(resolved), "reopened": int(reopened),
         "reassignments": int(reassignments)}
        for m, n, resolved, reopened, reassignments in c.fetchall()
    ]  # fmt: skip


def root_cause_counts(c: Cursor, period: Period, source: str | None = None) -> list[Row]:
    """Per month of receipt and root cause of the last resolution: the incidents resolved."""
    where, params = _filters(period, source)
    c.execute(
        "SELECT month, root_cause, COUNT(*) FROM incident_summaries"
        f" WHERE {where} AND resolutions > 0 GROUP BY month, root_cause",
        params,
    )
    rows = [
        {"month": m, "root_cause": cause or NO_ROOT_CAUSE, "incidents": n}
        for m, cause, n in c.fetchall()
    ]
    return sorted(rows, key=lambda r: (r["month"], -r["incidents"], r["root_cause"]))


def _filters(period: Period, source: str | None) -> tuple[str, list[str]]:
    where, params = "month BETWEEN ? AND ?", [period.first, period.last]
    if source is not None:
        where += " AND source = ?"
        params.append(source)
    return where, params
