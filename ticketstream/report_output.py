"""Rendering report rows as a table, CSV or JSON (values as text: ticketstream.safe_text)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any, Literal

from rich.console import Console
from rich.table import Table

from ticketstream.safe_text import csv_cell, json_text, text, titled_table

Format = Literal["table", "csv", "json"]
Row = dict[str, Any]

# Columns that hold a fraction, printed as a percentage in tables.
# Exact in JSON and CSV; only a table rounds: shares as percentages, other numbers to 0.01.
_PERCENT = {
    "share", "compliance", "cumulative_share", "resolved_share", "breach_rate", "bad_share",
    "neutral_share", "good_share", "response_rate", "reopen_rate", "quick_reopen_rate",
    "first_contact_resolution", "escalation_rate", "thanks_share",
}
_NUMERIC = _PERCENT | {
    "contacts", "incidents", "thanks", "started", "met", "breached", "running", "at_risk",
    "running_breached", "paused", "median_minutes", "p90_minutes", "reopened", "resolved",
    "cycle", "minutes_left", "minutes_overdue", "target_minutes", "elapsed_minutes",
    "paused_minutes", "policy_version",
}


def render(
    rows: Sequence[Row], fmt: Format, title: str, console: Console, *, csv_raw: bool = False
) -> None:
    """Print rows: JSON is one array of objects, CSV has a header line, a table is for people.

    CSV cells are neutralised for spreadsheets unless ``csv_raw`` (ticketstream.safe_text).
    """
    if fmt == "json":
        console.file.write(json_text(list(rows)) + "\n")
    elif fmt == "csv":
        console.file.write(to_csv(rows, raw=csv_raw))
    else:
        console.print(to_table(rows, title))


def to_csv(rows: Sequence[Row], *, raw: bool = False) -> str:
    """CSV text with a header of the first row's keys; text cells neutralised unless ``raw``."""
    if not rows:
        return ""
    names = list(rows[0])
    lines = [_csv_line([csv_cell(name, raw) for name in names])]
    lines += [_csv_line([csv_cell(row.get(name), raw) for name in names]) for row in rows]
    return "".join(lines)


def _csv_line(cells: list[object]) -> str:
    # The csv module quotes a cell holding any character of its line terminator only, so it
    # writes CRLF here (a CR inside a raw cell is quoted too) and the line ends with LF.
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue()[:-2] + "\n"


def to_table(rows: Sequence[Row], title: str) -> Table:
    """A rich table of the rows; shares print as percentages."""
    table = titled_table(title)
    columns = list(rows[0]) if rows else ["(no data for this period)"]
    for name in columns:
        table.add_column(text(name), justify="right" if name in _NUMERIC else "left")
    for row in rows:
        table.add_row(*(text(_cell(name, row[name])) for name in columns))
    return table


def channel_pivot(rows: Sequence[Row], title: str) -> Table:
    """Months down, channels across, each cell 'contacts (share %)'."""
    channels = sorted({row["channel"] for row in rows})
    table = titled_table(title)
    table.add_column("month", no_wrap=True)
    for channel in channels:
        table.add_column(text(channel), justify="right")
    table.add_column("total", justify="right")
    by_month: dict[str, dict[str, Row]] = {}
    for row in rows:
        by_month.setdefault(row["month"], {})[row["channel"]] = row
    for month, cells in by_month.items():
        total = sum(r["contacts"] for r in cells.values())
        shown = [_share_cell(cells.get(ch)) for ch in channels]
        table.add_row(text(month), *shown, str(total))
    return table


def _share_cell(row: Row | None) -> str:
    return "" if row is None else f"{row['contacts']} ({row['share']:.0%})"


def _cell(name: str, value: Any) -> str:
    if value is None:
        return "-"
    if name in _PERCENT and isinstance(value, float):
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)
