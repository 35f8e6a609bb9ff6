"""Reconciling an export with the read models: per month, the CSV's counts beside the store's."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from producers.servicenow import ImportOptions
from producers.servicenow_tally import ExportTally, MonthTally, tally_export
from projections.queries import Period, Row
from projections.read_side import ReadSide

MEASURES = ("incidents", "resolved", "reopened", "reassignments")
# How many root causes of each month are compared (the CSV's most frequent, then the store's).
TOP_ROOT_CAUSES = 5
_EVERY_MONTH = Period("0000-01", "9999-12")


def reconcile(side: ReadSide, file: Path, options: ImportOptions) -> tuple[list[Row], str]:
    """The reconciliation rows of ``file`` against the read models (read-only), and their title."""
    with file.open(encoding="utf-8", errors="replace", newline="") as lines:
        tally = tally_export(lines, options.zone, side.zone)
    counts, causes = side.incident_counts(_EVERY_MONTH, options.source)
    rows = reconciliation_rows(tally, counts, causes)
    title = f"{file.name} (csv) beside the read models (source {options.source})"
    status = side.projection_status(datetime.now(timezone.utc)).rows
    lag = next((int(s["lag"]) for s in status if s["projection"] == "incident_summaries"), 0)
    if lag:
        title += f" — incident_summaries is {lag} events behind: run `ticketstream project --once`"
    return rows, title


def reconciliation_rows(tally: ExportTally, counts: list[Row], causes: list[Row]) -> list[Row]:
    """Per month: each measure and the top root causes, counted in the CSV and in the store."""
    stored = {row["month"]: row for row in counts}
    stored_causes: dict[str, dict[str, int]] = {}
    for row in causes:
        stored_causes.setdefault(row["month"], {})[row["root_cause"]] = row["incidents"]
    rows = []
    for month in sorted(set(tally.months) | set(stored)):
        csv_side, in_store = tally.months.get(month, MonthTally()), stored.get(month, {})
        for measure in MEASURES:
            rows.append(_row(month, measure, getattr(csv_side, measure), in_store.get(measure, 0)))
        month_causes = stored_causes.get(month, {})
        for cause in _top_causes(csv_side, month_causes):
            count = csv_side.root_causes[cause]
            rows.append(_row(month, f"root cause {cause}", count, month_causes.get(cause, 0)))
    return rows


def differences(rows: list[Row]) -> int:
    """How many rows disagree."""
    return sum(1 for row in rows if row["difference"])


def _top_causes(csv_side: MonthTally, in_store: dict[str, int]) -> list[str]:
    ranked = sorted(csv_side.root_causes, key=lambda c: (-csv_side.root_causes[c], c))
    top = ranked[:TOP_ROOT_CAUSES]
    by_store = sorted(in_store, key=lambda c: (-in_store[c], c))[:TOP_ROOT_CAUSES]
    return top + [cause for cause in by_store if cause not in top]


def _row(month: str, measure: str, csv_count: int, stored_count: int) -> Row:
    return {
        "month": month, "measure": measure, "csv": csv_count, "read_models": stored_count,
        "difference": stored_count - csv_count,
    }  # fmt: skip
