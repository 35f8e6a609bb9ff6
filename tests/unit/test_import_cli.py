"""`ticketstream import servicenow` on the command line: files, summaries and user mistakes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from producers.servicenow import ImportOptions
from ticketstream import servicenow_import
from ticketstream.settings import load_settings

DATA = Path(__file__).parent.parent / "data" / "servicenow"


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ticketstream", "import", "servicenow", *args],
        env={**os.environ, "TICKETSTREAM_EVENT_STORE": str(tmp_path / "e.db"),
             "TICKETSTREAM_REPORT_TIMEZONE": "Europe/Moscow"},
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_bad_row_is_one_line_with_exit_code_2_and_leaves_no_file(tmp_path: Path) -> None:
    result = _run(tmp_path, str(DATA / "bad_row.csv"), "-o", "events.jsonl")

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "ticketstream: error: line 3, column sys_updated_at: '14/3/2016 25:61' is not a"
        " D/M/YYYY HH:MM time"
    ]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("events")) == []


def test_skipped_rows_are_named_and_counted(tmp_path: Path) -> None:
    result = _run(tmp_path, str(DATA / "bad_row.csv"), "-o", "events.jsonl", "--skip-invalid")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "skipped line 3, column sys_updated_at: '14/3/2016 25:61' is not a D/M/YYYY HH:MM time"
    assert lines[1].startswith("read 3 rows of 1 incidents: wrote 3 events to events.jsonl")
    assert "1 invalid rows skipped" in lines[1]


def test_the_jsonl_is_one_compact_event_per_line_and_the_same_bytes_twice(tmp_path: Path) -> None:
    source = str(DATA / "reopen_after_closed.csv")

    first = _run(tmp_path, source, "-o", "a.jsonl")
    second = _run(tmp_path, source, "-o", "b.jsonl")

    assert first.returncode == second.returncode == 0
    text = (tmp_path / "a.jsonl").read_text()
    assert text == (tmp_path / "b.jsonl").read_text()
    events = [json.loads(line) for line in text.splitlines()]
    assert [e["type"] for e in events][:4] == [
        "incident.received", "incident.reassigned", "incident.resolved", "incident.closed",
    ]  # fmt: skip
    assert events[0]["occurred_at"] == "2016-03-03T08:00:00+03:00"  # the report zone by default
    assert all(
        line == json.dumps(json.loads(line), separators=(",", ":"), sort_keys=True)
        for line in text.splitlines()
    )
    assert first.stdout.startswith("read 6 rows of 1 incidents: wrote 7 events to a.jsonl (closed=2,")


def test_without_a_destination_the_events_go_to_stdout_and_the_summary_to_stderr(tmp_path: Path) -> None:
    result = _run(tmp_path, str(DATA / "first_row_resolved.csv"), "--timezone", "UTC")

    assert result.returncode == 0
    assert [json.loads(line)["type"] for line in result.stdout.splitlines()] == [
        "incident.received", "incident.reassigned", "incident.resolved", "incident.closed",
    ]  # fmt: skip
    assert json.loads(result.stdout.splitlines()[0])["occurred_at"] == "2016-03-01T09:00:00Z"
    assert result.stderr.startswith("read 2 rows of 1 incidents: wrote 4 events to stdout")


def test_names_of_customers_are_in_the_events_but_never_in_what_is_printed(tmp_path: Path) -> None:
    result = _run(tmp_path, str(DATA / "first_row_resolved.csv"), "-o", "e.jsonl")

    assert "Caller 2403" in (tmp_path / "e.jsonl").read_text()
    assert "Caller" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("-o", "x.jsonl", "--publish"), "give -o FILE or --publish, not both"),
        (("--timezone", "Mars/Olympus"), "unknown time zone 'Mars/Olympus'"),
        (("--source", "s" * 65), "--source must be 1 to 64 printable characters"),
        (("--source", "snow\x1b[2J"), "--source must be 1 to 64 printable characters"),
        (("--reconcile", "--format", "xml"), "'xml' is not one of"),
    ],
)
def test_a_user_mistake_is_one_line_and_exit_code_2(tmp_path: Path, args: tuple[str, ...], says: str) -> None:
    result = _run(tmp_path, str(DATA / "first_row_resolved.csv"), *args)

    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and says in result.stderr, result.stderr


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    result = _run(tmp_path, "nowhere.csv")

    assert (result.returncode, result.stderr.strip()) == (2, "ticketstream: error: no such file: nowhere.csv")


def test_reconciling_alone_only_compares_the_csv_with_the_store(tmp_path: Path) -> None:
    result = _run(tmp_path, str(DATA / "reopen_after_closed.csv"), "--reconcile", "--format", "json")

    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows[:3] == [
        {"month": "2016-03", "measure": "incidents", "csv": 1, "read_models": 0, "difference": -1},
        {"month": "2016-03", "measure": "resolved", "csv": 1, "read_models": 0, "difference": -1},
        {"month": "2016-03", "measure": "reopened", "csv": 1, "read_models": 0, "difference": -1},
    ]
    assert rows[-1]["measure"] == "root cause code 9"
    assert not list(tmp_path.glob("*.jsonl"))


def test_a_long_file_on_a_terminal_shows_a_progress_bar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(servicenow_import, "PROGRESS_FROM_BYTES", 0)
    terminal = Console(file=io.StringIO(), force_terminal=True, width=100)
    options = ImportOptions(load_settings().zone)

    summary = servicenow_import.write(DATA / "reclassified.csv", options, tmp_path / "e.jsonl", terminal)

    assert summary.incidents == 1
    assert "importing reclassified.csv" in terminal.file.getvalue()  # type: ignore[attr-defined]
