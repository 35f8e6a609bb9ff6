"""A ServiceNow incident audit export: its columns, its times, and its rows read one at a time."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime
from typing import IO
from zoneinfo import ZoneInfo

from producers.errors import InvalidRow

# The layout of the public "Incident management process enriched event log": one row per update.
COLUMNS = (
    "number", "incident_state", "active", "reassignment_count", "reopen_count", "sys_mod_count",
    "made_sla", "caller_id", "opened_by", "opened_at", "sys_created_by", "sys_created_at",
    "sys_updated_by", "sys_updated_at", "contact_type", "location", "category", "subcategory",
    "u_symptom", "cmdb_ci", "impact", "urgency", "priority", "assignment_group", "assigned_to",
    "knowledge", "u_priority_confirmation", "notify", "problem_id", "rfc", "vendor", "caused_by",
    "closed_code", "resolved_by", "resolved_at", "closed_at",
)  # fmt: skip
MISSING = "?"
TIME_FORMAT = "D/M/YYYY HH:MM"
_TIME = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?$")
_NUMBER = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# ServiceNow's priority labels, by the word after the digit ("3 - Moderate" → moderate).
PRIORITIES = {
    "critical": "critical", "high": "high", "moderate": "normal", "medium": "normal",
    "low": "low", "planning": "low",
}  # fmt: skip
# How often (in bytes) the progress callback hears how far the reading is.
_PROGRESS_STEP = 1 << 20


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One update of one incident, the columns the import reads parsed (``None`` = ``?``).

    ``channel`` is contact_type in snake_case and ``priority`` the contract's word for it;
    every other text is kept verbatim. ``caller`` is personal data: never log it.
    """

    line: int
    number: str
    state: str
    reassignment_count: int
    reopen_count: int
    sys_mod_count: int
    opened_at: datetime
    updated_at: datetime
    channel: str | None
    location: str | None
    category: str | None
    priority: str | None
    group: str | None
    assignee: str | None
    caller: str | None
    closed_code: str | None


@lru_cache(maxsize=4096)  # vocabularies are small: states, contact types, priorities
def snake_case(text: str) -> str:
    """Lower-case words joined by underscores: "Self service" → "self_service"."""
    return "_".join(re.findall(r"[a-z0-9]+", text.lower()))


@lru_cache(maxsize=4096)  # every row of an incident repeats its opened_at
def parse_time(text: str, zone: ZoneInfo) -> datetime | None:
    """A ``D/M/YYYY HH:MM`` (seconds optional) local time in ``zone``; None if it is not one."""
    match = _TIME.match(text.strip())
    if match is None:
        return None
    day, month, year, hour, minute, second = (int(part or 0) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:
        return None


def text_lines(stream: IO[bytes], progress: Callable[[int], None] | None = None) -> Iterator[str]:
    """The stream's lines as text (bad UTF-8 becomes U+FFFD); ``progress`` hears the bytes read."""
    pending = 0
    for raw in stream:
        pending += len(raw)
        if progress is not None and pending >= _PROGRESS_STEP:
            progress(pending)
            pending = 0
        yield raw.decode("utf-8", errors="replace")
    if progress is not None and pending:
        progress(pending)


def read_rows(lines: Iterable[str], zone: ZoneInfo) -> Iterator[AuditRow | InvalidRow]:
    """Every data row of an export, parsed, or the reason it cannot be (one per bad row).

    Columns are found by their header names (their order and extra columns do not matter).

    Raises:
        InvalidRow: when the header lacks a column of the layout (nothing can be read then).
    """
    reader = csv.reader(lines)
    header = _header(reader)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            yield InvalidRow(reader.line_num, None, f"not CSV: {err}")
            continue
        if not cells:
            continue
        if len(cells) != header.width:
            problem = f"{len(cells)} columns where the header has {header.width}"
            yield InvalidRow(reader.line_num, None, problem)
            continue
        yield _row(reader.line_num, cells, header.positions, zone)


@dataclass(frozen=True)
class _Header:
    positions: dict[str, int]
    width: int


def _header(reader: Iterator[list[str]]) -> _Header:
    try:
        names = [name.strip().lstrip("\ufeff") for name in next(reader)]
    except StopIteration:
        raise InvalidRow(1, None, "the file is empty; expected a header line") from None
    missing = [name for name in COLUMNS if name not in names]
    if missing:
        raise InvalidRow(1, None, f"the header lacks the column(s) {', '.join(missing)}")
    return _Header({name: names.index(name) for name in COLUMNS}, len(names))


def _row(
    line: int, cells: list[str], positions: dict[str, int], zone: ZoneInfo
) -> AuditRow | InvalidRow:
    def cell(name: str) -> str | None:
        value = cells[positions[name]].strip()
        return None if value in ("", MISSING) else value

    try:
        if "\ufffd" in "".join(cells):
            raise InvalidRow(line, None, "not UTF-8 text")
        return AuditRow(
            line=line,
            number=_number(line, cell("number")),
            state=_required(line, "incident_state", cell("incident_state")),
            reassignment_count=_count(line, "reassignment_count", cell("reassignment_count")),
            reopen_count=_count(line, "reopen_count", cell("reopen_count")),
            sys_mod_count=_count(line, "sys_mod_count", cell("sys_mod_count")),
            opened_at=_time(line, "opened_at", cell("opened_at"), zone),
            updated_at=_time(line, "sys_updated_at", cell("sys_updated_at"), zone),
            channel=_channel(cell("contact_type")),
            location=cell("location"),
            category=cell("category"),
            priority=_priority(line, cell("priority")),
            group=cell("assignment_group"),
            assignee=cell("assigned_to"),
            caller=cell("caller_id"),
            closed_code=cell("closed_code"),
        )
    except InvalidRow as invalid:
        return invalid


def _required(line: int, column: str, value: str | None) -> str:
    if value is None:
        raise InvalidRow(line, column, "missing (empty or '?')")
    return value


def _number(line: int, value: str | None) -> str:
    number = _required(line, "number", value)
    if not _NUMBER.match(number):
        raise InvalidRow(line, "number", "not an incident number (1-64 of A-Z a-z 0-9 . _ : -)")
    return number


def _count(line: int, column: str, value: str | None) -> int:
    text = _required(line, column, value)
    if not text.isdigit():
        raise InvalidRow(line, column, f"'{text[:20]}' is not a whole number")
    return int(text)


def _time(line: int, column: str, value: str | None, zone: ZoneInfo) -> datetime:
    text = _required(line, column, value)
    instant = parse_time(text, zone)
    if instant is None:
        raise InvalidRow(line, column, f"'{text[:30]}' is not a {TIME_FORMAT} time")
    return instant


def _channel(value: str | None) -> str | None:
    return None if value is None else (snake_case(value) or None)


def _priority(line: int, value: str | None) -> str | None:
    if value is None:
        return None
    word = snake_case(value.split("-", 1)[-1]) if "-" in value else snake_case(value)
    if word not in PRIORITIES:
        known = ", ".join(f"'N - {w.capitalize()}'" for w in PRIORITIES)
        raise InvalidRow(line, "priority", f"'{value[:30]}' is not a priority ({known})")
    return PRIORITIES[word]
