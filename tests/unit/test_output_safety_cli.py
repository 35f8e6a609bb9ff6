"""Output safety through the real command line (issue 13): what a user's terminal and
spreadsheet receive from `incident show`, `report root-causes --format csv` and an error."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from consumers.ingest import Ingest
from tests.unit.test_ingest import messages_of, open_app, wire

TITLE_AND_CLEAR = "\x1b]0;PWNED\x07\x1b[2J\x1b[31m"
LINK = "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"
FORMULA = '=HYPERLINK("http://evil.example","x")'
MARKUP = "[bold red]ALERT[/bold red] [link=http://evil.example]x[/link]"


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    clean.update(
        TICKETSTREAM_EVENT_STORE=str(tmp_path / "e.db"), TICKETSTREAM_STATE_DIR="var",
        TICKETSTREAM_REPORT_TIMEZONE="Europe/Moscow", COLUMNS="400",
    )  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "ticketstream", *args],
        env=clean, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _assert_inert(output: str) -> None:
    active = [ch for ch in output if ch != "\n" and unicodedata.category(ch)[0] == "C"]
    assert not active, active


@pytest.fixture
def hostile_store(tmp_path: Path) -> Path:
    """One incident: hostile free text, a formula as its root cause, markup as its category;
    resolved 300 hours after receipt, so its resolution breached."""
    app = open_app(tmp_path / "e.db")
    events = [
        wire("received", summary=f"{TITLE_AND_CLEAR}{LINK}\nline two", category=MARKUP),
        wire("escalated", hours=1, reason=f"tech{chr(0x202E)}troppus\x9b2J"),
        wire("resolved", hours=300, root_cause=FORMULA),
    ]
    Ingest(app).process(messages_of(events))
    app.close()
    return tmp_path


def test_incident_show_writes_escape_sequences_as_text_and_markup_as_written(
    hostile_store: Path,
) -> None:
    result = _cli(hostile_store, "incident", "show", "INC-1")

    assert result.returncode == 0, result.stderr
    _assert_inert(result.stdout)
    assert "\\x1b]0;PWNED\\x07\\x1b[2J\\x1b[31m" in result.stdout
    assert "\\x1b]8;;http://evil.example/\\x1b\\click\\x1b]8;;\\x1b\\" in result.stdout
    assert "\\nline two" in result.stdout
    assert "tech\\u202etroppus\\x9b2J" in result.stdout
    assert MARKUP in result.stdout
    assert FORMULA in result.stdout


def test_report_root_causes_as_csv_quotes_a_formula_and_raw_csv_keeps_it(
    hostile_store: Path,
) -> None:
    assert _cli(hostile_store, "project", "--once").returncode == 0
    query = ("report", "root-causes", "--from", "2025-03", "--to", "2025-03",
             "--as-of", "2026-01-01T00:00:00+00:00", "--format", "csv")  # fmt: skip

    safe = _cli(hostile_store, *query)
    raw = _cli(hostile_store, *query, "--csv-raw")
    exact = _cli(hostile_store, *query[:-1], "json")

    [safe_row] = list(csv.DictReader(io.StringIO(safe.stdout)))
    assert safe_row["root_cause"] == "'" + FORMULA
    assert (safe_row["breached"], safe_row["resolved"]) == ("1", "1")
    [raw_row] = list(csv.DictReader(io.StringIO(raw.stdout)))
    assert raw_row["root_cause"] == FORMULA
    [json_row] = json.loads(exact.stdout)
    assert json_row["root_cause"] == FORMULA
    _assert_inert(safe.stdout + raw.stdout + exact.stdout)


def test_report_root_causes_as_a_table_shows_markup_in_a_category_as_written(
    hostile_store: Path,
) -> None:
    assert _cli(hostile_store, "project", "--once").returncode == 0

    table = _cli(hostile_store, "report", "root-causes", "--by", "category", "--from", "2025-03",
                 "--to", "2025-03", "--as-of", "2026-01-01T00:00:00+00:00")  # fmt: skip

    assert table.returncode == 0, table.stderr
    assert MARKUP in table.stdout
    _assert_inert(table.stdout)


def test_the_one_line_error_shows_a_hostile_argument_escaped(tmp_path: Path) -> None:
    result = _cli(tmp_path, "incident", "show", f"INC{TITLE_AND_CLEAR}")

    assert result.returncode == 2
    assert result.stderr == (
        "ticketstream: error: no incident 'INC\\x1b]0;PWNED\\x07\\x1b[2J\\x1b[31m' in the event"
        " store\n"
    )
