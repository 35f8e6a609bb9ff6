"""User mistakes on the command line: one clear line on stderr, exit code 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a new user runs it: no Kafka configured, no `ticketstream broker` running."""
    clean = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    clean.update(TICKETSTREAM_EVENT_STORE=str(tmp_path / "e.db"), TICKETSTREAM_STATE_DIR="var")
    return subprocess.run(
        [sys.executable, "-m", "ticketstream", *args],
        env={**clean, **env}, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (("report", "channels", "--from", "2025-13"), {}, "'2025-13' is not a month"),
        (("report", "channels", "--from", "2025-06", "--to", "2025-01"), {}, "ends (2025-01) before it begins"),
        (("report", "sideways"), {}, "No such command 'sideways'"),
        (("report", "sla", "--clock", "lunch"), {}, "'lunch' is not one of"),
        (("report", "sla", "--as-of", "yesterday-ish"), {}, "'yesterday-ish' is not a moment"),
        (("report", "sla", "--status", "late"), {}, "unknown status 'late'"),
        (("report", "root-causes", "--by", "colour"), {}, "'colour' is not one of"),
        (("report", "at-risk", "--policy", "future"), {}, "'future' is not one of"),
        (("incident", "explain", "INC-404"), {}, "no incident 'INC-404'"),
        (("report", "sla"), {"TICKETSTREAM_CONFIG_FILE": "absent.toml"}, "absent.toml: cannot read"),
        (("report", "dynamics", "--format", "xml"), {}, "'xml' is not one of"),
        (("frobnicate",), {}, "No such command 'frobnicate'"),
        (("incident", "show", "INC-404"), {}, "no incident 'INC-404'"),
        (("publish", "missing.jsonl"), {}, "no such file: missing.jsonl"),
        (("dlq", "show", "99"), {}, "no dead letter with id 99"),
        (("dlq", "retry"), {}, "give one dead-letter ID or --all"),
        (("dlq", "retry", "7"), {}, "no open dead letter with id 7"),
        (("projections", "rebuild", "nope"), {}, "no projection named 'nope'"),
        (("projections", "rebuild"), {}, "name the read models to rebuild, or give --all"),
        (("projections", "rebuild", "dynamics", "--all"), {}, "names or --all, not both"),
        (("simulate", "--start", "March"), {}, "'March' is not a month"),
        (("report", "dynamics"), {"TICKETSTREAM_REPORT_TIMEZONE": "Mars/Olympus"}, "TICKETSTREAM_REPORT_TIMEZONE"),
        (("report", "dynamics"), {"TICKETSTREAM_EVENT_STORE": "postgresql://127.0.0.1:5432/"}, "names no database"),
    ],
)
def test_a_user_mistake_is_one_line_and_exit_code_2(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], says: str
) -> None:
    result = _run(tmp_path, *args, **env)

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ticketstream: error: ")
    assert says in lines[0]
    assert "Traceback" not in result.stderr


SERVICENOW_EXPORT = Path(__file__).parent.parent / "data" / "servicenow" / "reclassified.csv"
NO_BROKER = (
    "ticketstream: error: no Kafka broker: set KAFKA_BOOTSTRAP_SERVERS, run `ticketstream"
    " broker`, or pass --embedded for a private broker that stops with this command"
)


@pytest.mark.parametrize(
    "args",
    [("publish", "events.jsonl"), ("consume", "--once"), ("consume",),
     ("simulate", "--months", "1", "--publish"),
     ("import", "servicenow", str(SERVICENOW_EXPORT), "--publish")],
)  # fmt: skip
def test_without_a_broker_sending_or_reading_refuses_a_private_one_unless_asked(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    _run(tmp_path, "simulate", "--months", "1", "--incidents-per-month", "5", "-o", "events.jsonl")

    result = _run(tmp_path, *args)

    assert result.returncode == 2
    assert result.stderr.strip() == NO_BROKER
    assert "published" not in result.stdout
    assert not (tmp_path / "e.db").exists()


@pytest.mark.parametrize(
    "args", [("simulate", "--embedded"), ("import", "servicenow", str(SERVICENOW_EXPORT), "--embedded")]
)
def test_embedded_without_publish_is_a_mistake(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = _run(tmp_path, *args)

    assert result.returncode == 2
    assert result.stderr.strip() == "ticketstream: error: --embedded goes with --publish"


def test_a_bad_jsonl_line_is_named_and_nothing_is_published(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"type": "incident.received"}\n', encoding="utf-8")

    result = _run(tmp_path, "publish", str(events), KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1")

    assert result.returncode == 2
    assert result.stderr.strip().startswith("ticketstream: error: line 1: schema_violation:")


def test_no_arguments_prints_help(tmp_path: Path) -> None:
    result = _run(tmp_path)

    assert result.returncode == 0
    assert "Usage: ticketstream" in result.stdout


def test_a_bad_config_file_is_one_line_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "ticketstream.toml"
    config.write_text('[calendars.office]\ntimezone = "Europe/Moscow"\nhours = { mon = ["9-18"] }\n')

    result = _run(tmp_path, "config", "check", str(config))

    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"ticketstream: error: {config}: calendars.office.hours.mon[0]: '9-18' is not HH:MM-HH:MM"
    )


def test_config_check_shows_the_built_in_calendars_and_policies(tmp_path: Path) -> None:
    result = _run(tmp_path, "config", "check")

    assert result.returncode == 0
    assert "Business calendars (built-in defaults)" in result.stdout
    assert "SLA policy version 1" in result.stdout


def test_projections_rebuild_all_names_every_read_model_it_rebuilt(tmp_path: Path) -> None:
    result = _run(tmp_path, "projections", "rebuild", "--all")

    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    rebuilt = last.removeprefix("rebuilt ").split(" from ")[0].split(", ")
    assert {"sla_clocks", "incident_summaries", "channel_mix"} <= set(rebuilt)
    assert last.endswith("from 0 notifications; swapped in")
