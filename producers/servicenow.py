"""Importing a ServiceNow incident audit export: its rows streamed into contract events.

Rows are read one at a time and grouped by incident (an export lists each incident's rows
together); only the rows of the incident being mapped are held in memory, plus the numbers of
the incidents already seen, so a number that comes back later is caught.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from contracts.events import EVENT_MODELS, SCHEMA_VERSION, EventBase
from producers.errors import InvalidRow
from producers.servicenow_export import AuditRow, read_rows, text_lines
from producers.servicenow_lifecycle import Change, Standing, at_receipt, begin, step

# uuid5(NAMESPACE_URL, "ticketstream:import:servicenow"): fixed, so event ids never change.
NAMESPACE = uuid.UUID("91af6c3e-cab2-511f-a989-01452c7efff9")
DEFAULT_SOURCE = "servicenow"
SHOWN_SKIPPED = 20
# The export column behind each contract field, to name it when a value breaks the contract.
_COLUMN_OF_FIELD = {
    "incident_id": "number", "occurred_at": "sys_updated_at", "reported_at": "opened_at",
    "channel": "contact_type", "department": "assignment_group", "category": "category",
    "store": "location", "customer": "caller_id", "priority": "priority",
    "assignee": "assigned_to", "root_cause": "closed_code", "reason": "incident_state",
    "sequence": "sys_mod_count",
}  # fmt: skip


@dataclass(frozen=True)
class ImportOptions:
    """How to read the export: its time zone, the events' source, and whether to skip bad rows."""

    zone: ZoneInfo
    source: str = DEFAULT_SOURCE
    skip_invalid: bool = False


@dataclass
class ImportSummary:
    """What an import read and made.

    ``notes`` counts rows worth a word: ``duplicate_rows`` (a sys_mod_count seen before in
    the incident: the first in file order is kept), ``clamped_rows`` (their update time lay
    before the incident's previous event and was moved up to it), ``unknown_states``,
    ``held_after_closure`` (a reassignment or reclassification of a closed incident, imported
    only if it is reopened later), ``reopen_without_resolution`` (reopen_count went up while
    the incident was not resolved: nothing to reopen).
    """

    rows: int = 0
    incidents: int = 0
    events: Counter[str] = field(default_factory=Counter)
    skipped: int = 0
    # The first skipped rows, to show (the others are only counted).
    first_skipped: list[InvalidRow] = field(default_factory=list)
    notes: Counter[str] = field(default_factory=Counter)


def import_export(
    stream: IO[bytes], options: ImportOptions, summary: ImportSummary,
    progress: Callable[[int], None] | None = None,
) -> Iterator[EventBase]:  # fmt: skip
    """The contract events of an export, incident by incident, counted in ``summary``.

    Raises:
        InvalidRow: for the first row that cannot be imported, unless ``options.skip_invalid``
            (then it is skipped and counted in ``summary.skipped``); always for a bad header.
    """
    rows = read_rows(text_lines(stream, progress), options.zone)
    for group in _incidents(rows, options, summary):
        summary.incidents += 1
        for event in _events_of(group, options, summary):
            summary.events[str(getattr(event, "type"))] += 1
            yield event


def event_id(number: str, sys_mod_count: int, kind: str) -> uuid.UUID:
    """The id of the ``kind`` fact of one row: the same row always gives the same id."""
    return uuid.uuid5(NAMESPACE, f"{number}/{sys_mod_count}/{kind}")


def _incidents(
    rows: Iterable[AuditRow | InvalidRow], options: ImportOptions, summary: ImportSummary
) -> Iterator[list[AuditRow]]:
    """The valid rows, one list per incident."""
    seen: set[str] = set()
    group: list[AuditRow] = []
    for row in rows:
        summary.rows += 1
        if not isinstance(row, InvalidRow) and row.number in seen and row.number != _number(group):
            problem = f"incident {row.number} appears again after other incidents' rows"
            row = InvalidRow(row.line, "number", f"{problem} (an incident's rows must be together)")
        if isinstance(row, InvalidRow):
            _refuse(row, options, summary)
            continue
        if group and row.number != group[0].number:
            yield group
            group = []
        seen.add(row.number)
        group.append(row)
    if group:
        yield group


def _number(group: list[AuditRow]) -> str | None:
    return group[0].number if group else None


def _events_of(
    group: list[AuditRow], options: ImportOptions, summary: ImportSummary
) -> Iterator[EventBase]:
    """One incident's events; a row's facts happen at its update time, never before opened_at
    nor before the incident's previous event."""
    standing: Standing | None = None
    floor = group[0].opened_at
    for row in _in_order(group, summary):
        outcome = begin(row) if standing is None else step(standing, row)
        at = max(row.updated_at, row.opened_at if standing is None else floor)
        try:
            events = _events(outcome.changes, row, at, options)
        except InvalidRow as invalid:
            _refuse(invalid, options, summary)
            continue
        if not all(map(at_receipt, outcome.changes)) and row.updated_at < at:
            summary.notes["clamped_rows"] += 1
        summary.notes.update(outcome.notes)
        standing = outcome.standing
        if events:
            floor = at
        yield from events


def _in_order(group: list[AuditRow], summary: ImportSummary) -> Iterator[AuditRow]:
    """The rows by sys_mod_count; of rows with one sys_mod_count, the first in the file."""
    previous: int | None = None
    for row in sorted(group, key=lambda r: r.sys_mod_count):
        if row.sys_mod_count == previous:
            summary.notes["duplicate_rows"] += 1
            continue
        previous = row.sys_mod_count
        yield row


def _events(
    changes: list[Change], row: AuditRow, at: datetime, options: ImportOptions
) -> list[EventBase]:
    """The row's facts as contract events (the opening's at opened_at, the others at ``at``)."""
    return [
        _event(kind, fields, row, row.opened_at if at_receipt((kind, fields)) else at, options)
        for kind, fields in changes
    ]


def _event(
    kind: str, fields: dict[str, object], row: AuditRow, at: datetime, options: ImportOptions
) -> EventBase:
    model = EVENT_MODELS[f"incident.{kind}"]
    values = {name: value for name, value in fields.items() if value is not None}
    try:
        if "customer" in values:
            values["customer"] = {"name": values["customer"]}
        return model.model_validate({
            "event_id": event_id(row.number, row.sys_mod_count, kind), "type": f"incident.{kind}",
            "schema_version": SCHEMA_VERSION, "incident_id": row.number, "occurred_at": at,
            "source": options.source, "sequence": row.sys_mod_count, **values,
        })  # fmt: skip
    except ValidationError as err:
        raise _invalid(row, kind, err) from None


def _invalid(row: AuditRow, kind: str, err: ValidationError) -> InvalidRow:
    first = err.errors(include_input=False, include_url=False)[0]
    name = str(first["loc"][0]) if first["loc"] else ""
    column = _COLUMN_OF_FIELD.get(name)
    if kind == "received" and name == "occurred_at":
        column = "opened_at"
    problem = first["msg"] if column else f"{kind} {name}: {first['msg']}"
    return InvalidRow(row.line, column, problem)


def _refuse(invalid: InvalidRow, options: ImportOptions, summary: ImportSummary) -> None:
    if not options.skip_invalid:
        raise invalid
    summary.skipped += 1
    if len(summary.first_skipped) < SHOWN_SKIPPED:
        summary.first_skipped.append(invalid)
