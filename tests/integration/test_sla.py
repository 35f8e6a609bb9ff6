"""A generated quarter through the real broker: the SLA reports against an independent count."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.conftest import Cli
from tests.sla_oracle import clocks_of

pytestmark = pytest.mark.integration

AS_OF = "2026-01-01T00:00:00+03:00"


def test_a_generated_quarter_gives_the_sla_numbers_of_an_independent_count(
    any_store_cli: Cli, tmp_path: Path
) -> None:
    cli = any_store_cli
    data = tmp_path / "quarter.jsonl"
    cli("simulate", "--months", "3", "--seed", "7", "--start", "2025-04", "-o", str(data))
    events = [json.loads(line) for line in data.read_text().splitlines()]
    cli("publish", str(data))
    cli("consume", "--once")
    cli("project", "--once")

    summary = json.loads(cli("report", "sla", "--as-of", AS_OF, "--format", "json").stdout)
    listed = json.loads(
        cli("report", "sla", "--list", "--as-of", AS_OF, "--format", "json").stdout
    )
    causes = json.loads(cli("report", "root-causes", "--as-of", AS_OF, "--format", "json").stdout)

    expected: Counter[tuple[str, str, str]] = Counter()
    for clock in clocks_of(events):
        expected[clock.department, clock.clock, "breached" if clock.breached else "met"] += 1
    actual: Counter[tuple[str, str, str]] = Counter()
    for row in summary:
        if row["department"] != "(all)":
            actual[row["department"], row["clock"], "met"] += row["met"]
            actual[row["department"], row["clock"], "breached"] += row["breached"]
    assert +actual == +expected
    finals = [c for c in clocks_of(events) if c.clock == "resolution"]
    assert sum(row["breached"] for row in causes) == sum(c.breached for c in finals)
    received = sum(e["type"] == "incident.received" for e in events)
    open_resolutions = [
        r for r in listed if r["clock"] == "resolution" and r["status"] not in ("met", "breached")
    ]
    assert len(open_resolutions) == received - len(finals)  # never resolved in the quarter
    assert {row["policy_version"] for row in listed} == {1}

    april = json.loads(
        cli("report", "sla", "--from", "2025-04", "--to", "2025-04", "--clock", "handover",
            "--as-of", AS_OF, "--format", "json").stdout
    )  # fmt: skip
    assert {row["clock"] for row in april} == {"handover"}
    assert sum(r["started"] for r in april if r["department"] != "(all)") < len(finals)


def test_reports_as_of_a_past_moment_are_deterministic_and_explained(
    cli: Cli, tmp_path: Path
) -> None:
    data = tmp_path / "month.jsonl"
    cli("simulate", "--months", "1", "--seed", "3", "-o", str(data))
    cli("publish", str(data))
    cli("consume", "--once")
    cli("project", "--once")
    moment = "2025-01-20T16:00"

    first = cli("report", "at-risk", "--as-of", moment, "--format", "json").stdout
    again = cli("report", "at-risk", "--as-of", moment, "--format", "json").stdout
    running = json.loads(
        cli("report", "sla", "--list", "--as-of", moment, "--status", "running", "--format", "json").stdout
    )
    incident = json.loads(data.read_text().splitlines()[0])["incident_id"]
    explained = cli("incident", "explain", incident, "--as-of", "2025-02-15").stdout

    assert first == again
    assert all(row["stopped_at"] is None for row in running)
    assert f"Incident {incident}" in explained and "handover (cycle 1)" in explained
    assert "status " in explained
