"""`ticketstream incident explain`: the read side's explanation of one incident, printed."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console

from projections.queries import Row
from projections.read_side import ReadSide
from projections.report import Report
from projections.sla_queries import PolicyChoice
from ticketstream.safe_text import say, text, titled_table


def print_explanation(
    side: ReadSide, incident_id: str, as_of: datetime, policy: PolicyChoice, console: Console
) -> None:
    """Each clock's calendar, its counted, paused and closed stretches, and its status.

    Raises:
        QueryError: when the event store has no such incident.
    """
    print_report(side.explain(incident_id, as_of, policy), console)


def print_report(explained: Report, console: Console) -> None:
    """An explanation (`projections.explanation`) as text and tables."""
    say(console, explained.title)
    if not explained.rows:
        say(console, "no SLA clocks: the incident has no receipt (a standalone thanks?)")
        return
    for row in explained.rows:
        _print_clock(row, console)
    for part in explained.parts:
        table = titled_table(part.title)
        table.add_column("party")
        table.add_column("minutes", justify="right")
        for share in part.rows:
            table.add_row(text(share["party"]), f"{share['minutes']:g}")
        console.print(table)


def _print_clock(row: Row, console: Console) -> None:
    heading = (
        f"{row['clock']} ({'stretch' if row['clock'] == 'ownership' else 'cycle'} {row['cycle']}) —"
        f" {row['party']} holds the ball; calendar {row['calendar']} ({row['timezone']});"
        f" policy version {row['policy_version']}: target {row['target_minutes']:g} + grace"
        f" {row['grace_minutes']:g} working minutes"
    )
    if row["status"] is None:
        say(console, "")
        say(console, heading)
        say(console, f"  not started by then (starts {_local(row['started_at'])})")
        return
    table = titled_table(heading, title_justify="left")
    for column in ("from", "to", "", "working min", "why"):
        table.add_column(column, justify="right" if column == "working min" else "left")
    for line in row["stretches"]:
        minutes = "" if line["minutes"] is None else f"{line['minutes']:g}"
        cells = (_local(line["from"]), _local(line["to"]), line["kind"], minutes, line["why"])
        table.add_row(*(text(cell) for cell in cells))
    console.print(table)
    for change in row["retargets"]:
        say(
            console,
            f"  re-targeted {_local(change['since'])} (priority {change['priority']},"
            f" category {change['category'] or '-'}, channel {change['channel']}): target"
            f" {change['target_minutes']:g} + grace {change['grace_minutes']:g}, minutes so far kept",
        )
    carried = f" (incl. {row['carried_minutes']:g} from earlier cycles)" if row["carried_minutes"] else ""
    say(
        console,
        f"  status {row['status']}: {row['elapsed_minutes']:g}{carried} of"
        f" {row['limit_minutes']:g} working minutes, {row['paused_minutes']:g} paused;"
        f" deadline {_local(row['deadline'])}",
    )


def _local(instant: datetime) -> str:
    return instant.strftime("%a %Y-%m-%d %H:%M")
