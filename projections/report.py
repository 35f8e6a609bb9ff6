"""What every report of the read side returns: a title, typed columns and rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from projections.queries import Row

# What a column holds: how a table shows it (fractions as percentages, minutes to 0.01),
# while JSON and CSV carry the value as it is.
Kind = Literal["text", "month", "instant", "count", "fraction", "minutes", "number", "rows"]


@dataclass(frozen=True)
class Column:
    """One column of a report: its name and the kind of its values."""

    name: str
    kind: Kind


@dataclass(frozen=True)
class Report:
    """One answer of the read side. ``rows`` are plain dicts keyed by the columns' names, in
    their order; ``parts`` are further reports that belong to it (who held the ball, under an
    explanation)."""

    title: str
    columns: tuple[Column, ...]
    rows: list[Row]
    parts: tuple[Report, ...] = field(default=())


_FRACTIONS = (
    "share", "compliance", "cumulative_share", "resolved_share", "breach_rate", "bad_share",
    "neutral_share", "good_share", "response_rate", "reopen_rate", "quick_reopen_rate",
    "first_contact_resolution", "escalation_rate", "thanks_share",
)  # fmt: skip
_COUNTS = (
    "contacts", "incidents", "thanks", "started", "met", "breached", "running", "at_risk",
    "running_breached", "paused", "reopened", "resolved", "cycle", "policy_version", "position",
    "head", "lag", "rated", "rated_bad", "rated_neutral", "rated_good", "reopens",
    "quick_reopens", "first_contact", "escalated",
)  # fmt: skip
_MINUTES = (
    "median_minutes", "p90_minutes", "minutes_left", "minutes_overdue", "target_minutes",
    "elapsed_minutes", "paused_minutes", "minutes",
)  # fmt: skip
KINDS: dict[str, Kind] = {
    **dict.fromkeys(_FRACTIONS, "fraction"), **dict.fromkeys(_COUNTS, "count"),
    **dict.fromkeys(_MINUTES, "minutes"), "month": "month", "started_at": "instant",
    "stopped_at": "instant", "deadline": "instant",
    "event_time_behind_seconds": "number", "wall_time_behind_seconds": "number",
}  # fmt: skip


def report(title: str, rows: list[Row], *, parts: tuple[Report, ...] = ()) -> Report:
    """A report of these rows, its columns the rows' keys in order, each of the kind `KINDS`
    gives its name (text otherwise); a report without rows has no columns."""
    names = list(rows[0]) if rows else []
    return Report(title, tuple(Column(n, KINDS.get(n, "text")) for n in names), rows, parts)
