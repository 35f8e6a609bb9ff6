"""What the CLI prints: reports from the read models, timelines, statuses, dead letters."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from rich.console import Console

from consumers.consume import ConsumeTotals
from consumers.ingest_recorder import IngestTables, StoredDeadLetter
from consumers.partition_status import PartitionLag
from consumers.personal_data import ERASED, PERSONAL_FIELDS
from consumers.records import LetterUpdate
from domain.application import Incidents
from domain.incident import Incident, in_timeline_order
from projections import queries
from projections.read_side import ReadSide
from projections.report import Report
from ticketstream.customer_data import data_key_ids, opened
from ticketstream.errors import TicketstreamError
from ticketstream.report_output import Format, channel_pivot, render
from ticketstream.safe_text import json_text
from ticketstream.safe_text import say, text, titled_table


def report_rows(
    side: ReadSide, name: str, first: str | None, last: str | None, department: str | None, now: datetime,
) -> list[dict[str, object]]:  # fmt: skip
    """The rows of one report over a period (the period's end defaults to the month of now)."""
    return monthly_report(side, name, first, last, department, now).rows


def monthly_report(
    side: ReadSide, name: str, first: str | None, last: str | None, department: str | None, now: datetime,
) -> Report:  # fmt: skip
    """`report channels|dynamics|thanks` from the read side."""
    return side.monthly(name, queries.Period.of(first, last, now, side.zone), department)


def quality_report(
    side: ReadSide, first: str | None, last: str | None, department: str | None, as_of: datetime,
) -> Report:  # fmt: skip
    """`report quality` from the read side, titled."""
    return side.quality(queries.Period.of(first, last, as_of, side.zone), department, as_of)


def repeat_contacts(
    side: ReadSide, first: str | None, last: str | None, department: str | None, within_days: int, now: datetime,
) -> Report:  # fmt: skip
    """`report repeat-contacts`: per month and department, customers coming back within N days."""
    return side.repeat_contacts(queries.Period.of(first, last, now, side.zone), department, within_days)


def print_report(
    side: ReadSide,
    name: str,
    first: str | None,
    last: str | None,
    department: str | None,
    fmt: Format,
    now: datetime,
    console: Console,
    *,
    csv_raw: bool = False,
) -> None:
    """Print one report in the chosen format (CSV neutralised unless ``csv_raw``)."""
    answer = monthly_report(side, name, first, last, department, now)
    if name == "channels" and fmt == "table" and answer.rows:
        console.print(channel_pivot(answer.rows, answer.title))
    else:
        render(answer.rows, fmt, answer.title, console, csv_raw=csv_raw)


def consume_summary(totals: ConsumeTotals, waiting: int) -> str:
    """One line on what a consume run did; ``waiting`` is how many events are parked in the
    store now (this run's and earlier runs'), waiting for the facts that make them valid.

    Every count is of something that happened (none is a difference): events parked by this
    run, events it released from parking (applied at last, or expired into the dead
    letters, possibly parked by an earlier run), and what still waits.
    """
    reasons = ", ".join(f"{r}={n}" for r, n in sorted(totals.reasons.items())) or "none"
    rate = totals.messages / totals.seconds if totals.seconds else 0.0
    return (
        f"consumed {totals.messages} messages in {totals.batches} batches ({rate:,.0f}/s): "
        f"{totals.applied} events applied, {totals.duplicates} duplicates ignored, "
        f"{totals.redelivered} redelivered skipped, {totals.parked} parked, "
        f"{totals.unparked} released from parking, {waiting} still parked, "
        f"{totals.dead_lettered} dead-lettered (reasons: {reasons})"
    )


HELD = "[held]"


def print_incident(app: Incidents, incident_id: str, console: Console) -> None:
    """The incident's events in timeline order (event time, then the source's sequence, …).

    Raises:
        TicketstreamError: when the event store has no such incident.
    """
    events = app.history(incident_id)
    if not events:
        raise TicketstreamError(f"no incident '{incident_id}' in the event store")
    table = titled_table(f"Incident {incident_id}")
    for column in ("occurred_at", "event", "source", "sequence", "details", "version"):
        table.add_column(column)
    skip = {"originator_id", "originator_version", "timestamp", "originator_topic", "event_id",
            "digest", "occurred_at", "source", "sequence", "arrival_stream", "arrival_position",
            "customer_key"}  # fmt: skip
    stored = [e for e in events if isinstance(e, Incident.Event)]
    recorder = app.recorder
    keys = recorder.data_keys(set().union(*map(data_key_ids, stored))) if isinstance(recorder, IngestTables) else {}
    for e in in_timeline_order(stored):
        # Personal data is never shown (`customer export` writes it): only whether it is held.
        shown = {k: (HELD if k in PERSONAL_FIELDS and v != ERASED else v) for k, v in opened(e, keys).items()}
        details = ", ".join(
            f"{k}={v}" for k, v in shown.items() if k not in skip and v is not None
        )
        sequence = "" if e.sequence is None else str(e.sequence)
        cells = (e.occurred_at, type(e).__name__, e.source, sequence, details, e.originator_version)
        table.add_row(*(text(cell) for cell in cells))
    console.print(table)


def print_projection_status(
    side: ReadSide, fmt: Format, console: Console, now: datetime, *, csv_raw: bool = False
) -> None:
    """Each read model's position and lag behind the event store, and its rules."""
    rows = side.projection_status(now).rows
    render([_readable(r) for r in rows] if fmt == "table" else rows, fmt, "Projections", console, csv_raw=csv_raw)


def _readable(row: dict[str, object]) -> dict[str, object]:
    """Time lags as spans for people (machine formats keep the seconds)."""
    return {_TIME_COLUMNS.get(k, k): _span(v) if k in _TIME_COLUMNS else v for k, v in row.items()}


_TIME_COLUMNS = {"event_time_behind_seconds": "event time behind", "wall_time_behind_seconds": "wall time behind"}


def _span(seconds: object) -> str:
    """Seconds as 0, 42 s, 17 min, 5 h 3 min or 12 d 4 h."""
    total = int(float(str(seconds)))
    if total < 60:
        return f"{total} s" if total else "0"
    minutes, hours, days = total // 60, total // 3600, total // 86400
    if days:
        return f"{days} d {hours % 24} h"
    if hours:
        return f"{hours} h {minutes % 60} min"
    return f"{minutes} min"


@dataclass(frozen=True)
class StatusScreen:
    """The ops screen: partitions (or why Kafka could not be asked), projections, and open
    dead letters by reason."""

    partitions: list[dict[str, object]] | str
    projections: list[dict[str, object]]
    open_dead_letters: dict[str, int]


def status_screen(
    side: ReadSide, recorder: IngestTables, lags: list[PartitionLag] | str, now: datetime
) -> StatusScreen:
    """Gather the ops screen (``recorder``: the read side's store's ingest tables, read-only);
    ``lags`` is a sentence when Kafka could not be asked."""
    partitions: list[dict[str, object]] | str = lags if isinstance(lags, str) else [
        {"partition": p.partition, "kafka_end_offset": p.end, "stored_position": p.applied, "lag": p.lag}
        for p in lags
    ]  # fmt: skip
    return StatusScreen(partitions, side.projection_status(now).rows, recorder.open_dead_letter_counts())


def print_status(screen: StatusScreen, fmt: Format, console: Console) -> None:
    """The ops screen as three tables, or one JSON object."""
    if fmt == "json":
        console.file.write(json_text(asdict(screen)) + "\n")
        return
    if isinstance(screen.partitions, str):
        say(console, f"Kafka: {screen.partitions}")
    else:
        render(screen.partitions, "table", "Partitions", console)
    render([_readable(r) for r in screen.projections], "table", "Projections", console)
    if screen.open_dead_letters:
        rows = [{"reason": r, "open": n} for r, n in screen.open_dead_letters.items()]
        render(rows, "table", "Open dead letters", console)
    else:
        say(console, "Open dead letters: none")


def dead_letter_rows(letters: list[StoredDeadLetter]) -> list[dict[str, object]]:
    """Dead letters, one row each: reason, detail and coordinates, never the payload."""
    return [
        {
            "id": s.id,
            "status": s.status,
            "reason": s.letter.reason,
            "detail": s.letter.detail,
            "topic": s.letter.message.coordinates.topic,
            "partition": s.letter.message.coordinates.partition,
            "offset": s.letter.message.coordinates.offset,
            "incident_id": s.letter.incident_id,
            "recorded_at": s.recorded_at,
        }
        for s in letters
    ]


def print_dead_letters(
    letters: list[StoredDeadLetter], fmt: Format, console: Console, *, csv_raw: bool = False
) -> None:
    """Dead letters, one row each, without payloads."""
    render(dead_letter_rows(letters), fmt, "Dead letters", console, csv_raw=csv_raw)


def retry_summary(updates: Sequence[LetterUpdate]) -> str:
    """One line on what retrying dead letters did."""
    resolved = sum(u.resolved for u in updates)
    failing = Counter(u.reason for u in updates if not u.resolved)
    reasons = ", ".join(f"{r}={n}" for r, n in sorted(failing.items())) or "none"
    return (
        f"retried {len(updates)} dead letters: {resolved} applied and resolved, "
        f"{len(updates) - resolved} still failing (reasons: {reasons})"
    )


def print_dead_letter(stored: StoredDeadLetter, console: Console) -> None:
    """One dead letter, its original bytes as a Python bytes literal (escaped, never markup)."""
    letter = stored.letter
    c = letter.message.coordinates
    for line in (
        f"id:          {stored.id} ({stored.status}, {stored.attempts} retries)",
        f"reason:      {letter.reason}",
        f"detail:      {letter.detail}",
        f"from:        {c.topic} partition {c.partition} offset {c.offset}",
        f"recorded_at: {stored.recorded_at}",
        f"bytes:       {len(letter.message.value)}"
        + ("" if letter.stored_value is None else " (stored sealed: it carries personal data)"),
        f"{ERASED} its customer's personal data was erased: the message can never be read again"
        if letter.stored_value is not None and not letter.message.value else repr(letter.message.value[:4096]),
    ):
        say(console, line)
