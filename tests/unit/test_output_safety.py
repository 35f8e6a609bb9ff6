"""Output safety (issue 13): upstream text reaches a terminal or a spreadsheet as text, never as
code, through every renderer; JSON keeps every value exact."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from testkit.hostile_messages import LIVE_CODE
from consumers.ingest import Ingest
from consumers.records import Coordinates, Message
from consumers.translation import to_fact
from contracts.codec import validate_object
from domain.application import Incidents
from domain.fact import Fact
from domain.sla_rules import default_rules
from producers.errors import InvalidRow
from producers.servicenow import ImportSummary
from projections.read_side import ReadSide
from projections.store_reader import DatastoreReader
from tests.hostile import hostile_strings, live_code_labels
from tests.unit.test_ingest import Event, messages_of, open_app, store, wire
from ticketstream import reports, servicenow_import, sla_config_report, sla_explain
from ticketstream.config_file import load_sla_rules
from ticketstream.report_output import channel_pivot, render, to_csv
from ticketstream.safe_text import csv_cell, json_text, shown

# Characters that act on a terminal instead of printing (written out here, independently of
# contracts.printable): controls but the newline rich ends lines with, format characters
# (bidi, zero-width), separators, private use, unassigned, surrogates.
_ACTIVE = ("Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Cs")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_RICH_SGR = re.compile(r"\x1b\[[0-9;]*m")
LATER = datetime(2026, 1, 1, tzinfo=UTC)
FEW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def console(terminal: bool = False) -> tuple[Console, io.StringIO]:
    """A console writing into a string: wide (no wrapping), a colour terminal if asked."""
    out = io.StringIO()
    if terminal:
        return Console(file=out, width=5000, force_terminal=True, color_system="truecolor"), out
    return Console(file=out, width=5000, color_system=None), out


def assert_inert(output: str) -> None:
    """Nothing in ``output`` acts on a terminal: no ESC, no C1, no bidi or invisible character."""
    active = {ch for ch in output if ch != "\n" and unicodedata.category(ch) in _ACTIVE}
    assert not active, sorted(f"U+{ord(ch):04X}" for ch in active)


def assert_literal(value: str, output: str) -> None:
    """The value is in the output as text: its markup, formulas and HTML as written (rich may
    wrap, pad or trim whitespace, so whitespace is not compared)."""
    assert _squeezed(shown(value)) in _squeezed(output)
    for piece in LIVE_CODE:
        if piece in value:
            assert _squeezed(piece) in _squeezed(output)


def _squeezed(text: str) -> str:
    return "".join(text.split())


# --- the escapes themselves --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("\x1b]0;PWNED\x07\x1b[2J", "\\x1b]0;PWNED\\x07\\x1b[2J"),
        ("\x9b31m", "\\x9b31m"),
        ("two\nlines\tand\rback", "two\\nlines\\tand\\rback"),
        ("tech\u202etroppus", "tech\\u202etroppus"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("[bold red]x[/bold red] =1+1 <b>", "[bold red]x[/bold red] =1+1 <b>"),
        ("Отдел\u00a0продаж 営業部\u3000東京 C:\\temp", "Отдел\u00a0продаж 営業部\u3000東京 C:\\temp"),
    ],
)  # fmt: skip
def test_unprintable_characters_are_written_as_python_escapes_and_the_rest_unchanged(
    value: str, written: str
) -> None:
    result = shown(value)

    assert result == written


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
        ("+1+1", "'+1+1"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\\t=1"), ("\r=1", "'\\r=1"), ("a=1", "a=1"), ("", ""),
        (-3, -3), (-0.5, -0.5), (None, None),
    ],
)  # fmt: skip
def test_a_csv_cell_a_spreadsheet_would_evaluate_gets_a_quote_and_numbers_stay_numbers(
    value: object, cell: object
) -> None:
    written = csv_cell(value)

    assert written == cell


# --- report tables, CSV and JSON ---------------------------------------------------------------


def _rows(value: str) -> list[dict[str, Any]]:
    return [{"category": value, "incidents": -3, "share": 0.25, "note": None}]


@settings(max_examples=200)
@given(hostile_strings())
def test_a_report_table_shows_hostile_values_as_inert_literal_text(value: str) -> None:
    plain, out = console()

    render(_rows(value), "table", f"Reasons — {value}", plain)

    assert_inert(out.getvalue())
    assert_literal(value, out.getvalue())


@settings(max_examples=100)
@given(hostile_strings())
def test_on_a_colour_terminal_the_only_escape_sequences_are_richs_own_styles(value: str) -> None:
    terminal, out = console(terminal=True)

    render(_rows(value), "table", value, terminal)

    assert_inert(_RICH_SGR.sub("", out.getvalue()))
    assert_literal(value, _RICH_SGR.sub("", out.getvalue()))


@settings(max_examples=100)
@given(hostile_strings())
def test_the_channel_pivot_shows_a_hostile_channel_as_inert_literal_text(value: str) -> None:
    plain, out = console()
    rows = [{"month": "2025-03", "channel": value, "contacts": 3, "share": 0.5}]

    plain.print(channel_pivot(rows, value))

    assert_inert(out.getvalue())
    assert_literal(value, out.getvalue())


@settings(max_examples=200)
@given(hostile_strings())
def test_csv_cells_never_begin_a_formula_and_show_control_characters_escaped(value: str) -> None:
    written = to_csv(_rows(value))

    [header, row] = list(csv.reader(io.StringIO(written)))
    assert header == ["category", "incidents", "share", "note"]
    assert not row[0].startswith(_FORMULA)
    assert row[0] == ("'" if value.startswith(_FORMULA) else "") + shown(value)
    assert row[1:] == ["-3", "0.25", ""]
    assert_inert(written)


@settings(max_examples=200)
@given(hostile_strings())
def test_raw_csv_keeps_every_value_exact_for_machines(value: str) -> None:
    written = to_csv(_rows(value), raw=True)

    [_, row] = list(csv.reader(io.StringIO(written, newline="")))
    assert row == [value, "-3", "0.25", ""]


@settings(max_examples=200)
@given(hostile_strings())
def test_json_parses_back_to_the_exact_value_and_is_inert_on_a_terminal(value: str) -> None:
    plain, out = console()

    render(_rows(value), "json", value, plain)

    assert json.loads(out.getvalue()) == _rows(value)
    assert_inert(out.getvalue().removesuffix("\n"))


def test_json_is_byte_for_byte_what_it_was_for_printable_text() -> None:
    rows = [{"channel": "чат", "share": 0.5, "note": '[b]"x"[/b]'}]

    written = json_text(rows)

    assert written == json.dumps(rows, ensure_ascii=False)


# --- incident show and incident explain, from a real store ---------------------------------------


@contextmanager
def incidents(path: list[Path] | None = None) -> Iterator[Incidents]:
    """A fresh SQLite store (its file appended to ``path`` if given), closed afterwards."""
    with TemporaryDirectory() as directory:
        app = open_app(Path(directory) / "e.db")
        if path is not None:
            path.append(Path(directory) / "e.db")
        try:
            yield app
        finally:
            app.close()


def legacy(event: Event, **hostile: str) -> Fact:
    """The fact of a valid event with values the contract now refuses (control characters in
    identifiers): what a store written before issue 13 may hold."""
    fact = to_fact(validate_object(event))
    source = hostile.pop("source", fact.source)
    details = {**fact.details, **hostile}
    return Fact(fact.kind, fact.incident_id, fact.event_id, fact.occurred_at, source, details)


def _hostile_incident(app: Incidents, text: str, label: str) -> None:
    """INC-1 through the contract (hostile free text, printable live code in identifiers),
    then a fact of an older store with control characters in identifiers."""
    events = [
        wire("received", summary=text, category=label, channel=label, priority="high"),
        wire("escalated", hours=1, reason=text),
        wire("reclassified", hours=2, category=label, channel=label),
        wire("reassigned", hours=3, department=label, assignee=label, reason=text),
        wire("resolved", hours=300, root_cause=label),
        wire("rated", hours=301, comment=text),
        wire("closed", hours=302, reason=text),
    ]
    Ingest(app).process(messages_of(events))
    reopened = wire("reopened", hours=303, reason=text)
    reassigned = wire("reassigned", hours=304, department="x")
    facts = [legacy(reopened, source=text), legacy(reassigned, department=text, assignee=text)]
    app.save_decision(app.decide(facts))


@FEW
@given(hostile_strings(), live_code_labels())
def test_incident_show_prints_every_hostile_value_of_the_store_as_inert_text(
    text: str, label: str
) -> None:
    plain, out = console()
    with incidents() as app:
        _hostile_incident(app, text, label)

        reports.print_incident(app, "INC-1", plain)

    assert_inert(out.getvalue())
    assert_literal(text, out.getvalue())
    assert_literal(label, out.getvalue())


@FEW
@given(hostile_strings(), live_code_labels())
def test_incident_explain_prints_hostile_groups_and_classifications_as_inert_text(
    text: str, label: str
) -> None:
    plain, out = console()
    with incidents() as app:
        _hostile_incident(app, text, label)

        side = ReadSide(DatastoreReader(app), ZoneInfo("UTC"), default_rules())
        sla_explain.print_explanation(side, "INC-1", LATER, "started", plain)

    assert_inert(out.getvalue())
    assert_literal(label, out.getvalue())
    assert_literal(text, out.getvalue())


# --- dead letters ------------------------------------------------------------------------------


def _dead_letters(app: Incidents, path: Path, text: str) -> None:
    """Two dead letters through the ingest (hostile bytes, a field named ``text``) and one
    written by an older version straight into the table, ``text`` in every column."""
    key = text.encode()
    invented = json.dumps({**wire("thanked", incident_id="INC-9"), text: 1}).encode()
    raw = Message(Coordinates("incidents.thanked", 0, 0), key, key + b"\x1b[2J\x9b\x00")
    Ingest(app).process([raw, Message(Coordinates("incidents.thanked", 0, 1), b"INC-9", invented)])
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO dead_letters (source_topic, source_partition, source_offset, message_key,"
            " payload, reason, detail, event_id, incident_id, recorded_at)"
            " VALUES (?, 0, 2, ?, ?, ?, ?, ?, ?, ?)",
            (text, key, key, text, text, text, text, text),
        )  # fmt: skip


@FEW
@given(hostile_strings())
def test_dlq_show_and_list_print_hostile_bytes_and_invented_fields_as_inert_text(text: str) -> None:
    path: list[Path] = []
    with incidents(path) as app:
        _dead_letters(app, path[0], text)
        letters = store(app).dead_letters()
        shown_letters, listed = [], {}
        for letter in letters:
            plain, out = console()
            reports.print_dead_letter(letter, plain)
            shown_letters.append(out.getvalue())
        for fmt in ("table", "csv", "json"):
            plain, out = console()
            reports.print_dead_letters(letters, fmt, plain)  # type: ignore[arg-type]
            listed[fmt] = out.getvalue()

    assert len(letters) == 3
    for output in [*shown_letters, listed["table"], listed["csv"], listed["json"]]:
        assert_inert(output)
    assert_literal(text, shown_letters[2])
    assert_literal(text, listed["table"])
    details = [row["detail"] for row in json.loads(listed["json"])]
    assert details == [letter.letter.detail for letter in letters]
    [_, *rows] = list(csv.reader(io.StringIO(listed["csv"])))
    assert [row[3] for row in rows] == [csv_cell(detail) for detail in details]


# --- config check and the import's summary -------------------------------------------------------


def _toml_string(text: str) -> str:
    """A TOML basic string of ``text``: quotes, backslashes and C0/DEL escaped, the rest raw."""
    def one(ch: str) -> str:
        return f"\\u{ord(ch):04x}" if ch in '"\\' or ord(ch) < 0x20 or ch == "\x7f" else ch

    return '"' + "".join(one(ch) for ch in text) + '"'


@FEW
@given(hostile_strings())
def test_config_check_prints_hostile_calendar_and_department_names_as_inert_text(text: str) -> None:
    name = _toml_string(text)
    config = (
        f'[calendars.{name}]\ntimezone = "Europe/Moscow"\nhours = {{ mon = ["09:00-18:00"] }}\n'
        f"[departments]\n{name} = {name}\n"
    )
    plain, out = console()
    with TemporaryDirectory() as directory:
        path = Path(directory) / "ticketstream.toml"
        path.write_text(config, encoding="utf-8")

        sla_config_report.print_sla_rules(load_sla_rules(path), text, plain)

    assert_inert(out.getvalue())
    assert_literal(text, out.getvalue())


@FEW
@given(hostile_strings())
def test_the_import_summary_prints_skipped_rows_as_inert_text(text: str) -> None:
    summary = ImportSummary()
    summary.first_skipped.append(InvalidRow(7, text, text))
    summary.skipped = 3
    plain, out = console()

    servicenow_import.print_summary(summary, f"wrote {{n}} events to {text}", plain)

    assert_inert(out.getvalue())
    assert_literal(text, out.getvalue())


@pytest.mark.parametrize("fmt", ["csv", "json"])
@given(value=st.sampled_from(LIVE_CODE))
@settings(max_examples=10)
def test_reconciliation_rows_are_neutralised_like_every_report(fmt: str, value: str) -> None:
    plain, out = console()
    rows = [{"month": "2025-03", "measure": value, "csv": 1, "read_models": 0, "difference": -1}]

    render(rows, fmt, "reconcile", plain)  # type: ignore[arg-type]

    if fmt == "csv":
        [_, row] = list(csv.reader(io.StringIO(out.getvalue())))
        assert not row[1].startswith(_FORMULA) and row[4] == "-1"
    else:
        assert json.loads(out.getvalue()) == rows
