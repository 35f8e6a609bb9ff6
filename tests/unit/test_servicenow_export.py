"""Reading a ServiceNow export: its times and vocabularies, and one clear line for a bad row."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from producers.errors import InvalidRow
from producers.servicenow import ImportOptions, ImportSummary, import_export
from producers.servicenow_export import COLUMNS, parse_time, snake_case, text_lines

DATA = Path(__file__).parent.parent / "data" / "servicenow"
MOSCOW = ZoneInfo("Europe/Moscow")
GOOD = (DATA / "reassigned_while_resolved.csv").read_text()


def _import(text: str | bytes, skip_invalid: bool = False) -> ImportSummary:
    data = text.encode() if isinstance(text, str) else text
    summary = ImportSummary()
    for _ in import_export(io.BytesIO(data), ImportOptions(MOSCOW, skip_invalid=skip_invalid), summary):
        pass
    return summary


def _error(text: str | bytes) -> str:
    with pytest.raises(InvalidRow) as raised:
        _import(text)
    return str(raised.value)


def _with_cell(line: int, column: str, value: str) -> str:
    lines = GOOD.splitlines()
    cells = lines[line - 1].split(",")
    cells[COLUMNS.index(column)] = value
    lines[line - 1] = ",".join(cells)
    return "\n".join(lines) + "\n"


def test_times_are_day_first_local_times_of_the_export_zone() -> None:
    assert parse_time("5/3/2016 09:07", MOSCOW) == datetime(2016, 3, 5, 9, 7, tzinfo=MOSCOW)
    assert parse_time("29/2/2016 23:59:30", MOSCOW) == datetime(2016, 2, 29, 23, 59, 30, tzinfo=MOSCOW)
    assert parse_time("31/2/2016 10:00", MOSCOW) is None
    assert parse_time("2016-03-05 09:07", MOSCOW) is None


def test_vocabulary_is_snake_cased() -> None:
    assert [snake_case(v) for v in ("Phone", "Self service", "IVR", "Awaiting User Info")] == [
        "phone", "self_service", "ivr", "awaiting_user_info",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("label", "priority"),
    [("1 - Critical", "critical"), ("2 - High", "high"), ("3 - Moderate", "normal"), ("4 - Low", "low")],
)
def test_priorities_map_to_the_contracts_words(label: str, priority: str) -> None:
    text = _with_cell(2, "priority", label)

    events = list(import_export(io.BytesIO(text.encode()), ImportOptions(MOSCOW), ImportSummary()))

    assert getattr(events[0], "priority") == priority


@pytest.mark.parametrize(
    ("line", "column", "value", "says"),
    [
        (3, "number", "?", "line 3, column number: missing (empty or '?')"),
        (3, "number", "INC 7", "line 3, column number: not an incident number"),
        (4, "sys_mod_count", "two", "line 4, column sys_mod_count: 'two' is not a whole number"),
        (2, "opened_at", "2016-03-04 11:00", "line 2, column opened_at: '2016-03-04 11:00' is not a D/M/YYYY HH:MM time"),
        (5, "reopen_count", "-1", "line 5, column reopen_count: '-1' is not a whole number"),
        (2, "priority", "urgent", "line 2, column priority: 'urgent' is not a priority"),
        (2, "assignment_group", "G" * 65, "line 2, column assignment_group: String should have at most 64 characters"),
        (2, "opened_at", "4/3/1989 11:00", "line 2, column opened_at: Value error, the year must lie in 1990..2099"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_row_and_the_column(
    line: int, column: str, value: str, says: str
) -> None:
    assert _error(_with_cell(line, column, value)).startswith(says)


def test_a_row_with_a_wrong_number_of_columns_is_named() -> None:
    text = GOOD.replace(",Resolver 31,", ",Resolver 31,extra,", 1)

    assert _error(text) == "line 5: 37 columns where the header has 36"


def test_a_header_without_a_column_of_the_layout_is_refused() -> None:
    text = GOOD.replace("sys_mod_count,", "mods,", 1)

    assert _error(text) == "line 1: the header lacks the column(s) sys_mod_count"


def test_personal_data_never_appears_in_an_error() -> None:
    text = _with_cell(2, "caller_id", "Anna Petrova " * 20)

    message = _error(text)

    assert message.startswith("line 2, column caller_id:")
    assert "Anna" not in message


def test_an_incident_whose_rows_come_back_later_is_refused() -> None:
    other = (DATA / "unknown_state.csv").read_text().splitlines()[1]
    lines = GOOD.splitlines()
    text = "\n".join([*lines[:3], other, *lines[3:]]) + "\n"

    assert _error(text).startswith("line 5, column number: incident INC0000104 appears again")


def test_bytes_that_are_not_utf8_are_a_bad_row() -> None:
    data = GOOD.encode().replace(b"Location 143", b"Location \xff", 1)

    assert _error(data) == "line 2: not UTF-8 text"


def test_skipping_bad_rows_counts_each() -> None:
    text = _with_cell(3, "sys_updated_at", "soon")
    text = text.replace(",Resolver 31,", ",Resolver 31,extra,", 1)

    summary = _import(text, skip_invalid=True)

    assert (summary.rows, summary.skipped, summary.incidents) == (5, 2, 1)
    assert [invalid.line_number for invalid in summary.first_skipped] == [3, 5]


def test_the_progress_hears_every_byte_of_the_file() -> None:
    data = GOOD.encode() * 300
    heard: list[int] = []

    lines = list(text_lines(io.BytesIO(data), heard.append))

    assert sum(heard) == len(data)
    assert "".join(lines) == data.decode()
