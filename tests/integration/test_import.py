"""A ServiceNow export through the real broker: import --publish, consume, project, reconcile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testkit.servicenow_export import ExportSpec, write_export
from tests.integration.conftest import Cli


@pytest.mark.timeout(600)
def test_an_imported_export_reconciles_with_the_read_models_without_dead_letters(
    cli: Cli, tmp_path: Path
) -> None:
    export = tmp_path / "incidents.csv"
    with export.open("w", newline="") as stream:
        rows = write_export(ExportSpec(incidents=600, seed=21, days=90, duplicate_share=0.01), stream)
    zone = ("--timezone", "Europe/Moscow")

    published = cli("import", "servicenow", str(export), "--publish", *zone)
    cli("consume", "--once")
    cli("project", "--once")
    reconciled = cli("import", "servicenow", str(export), "--reconcile", *zone, "--format", "json")
    letters = cli("dlq", "list", "--all", "--format", "json")

    assert published.stdout.startswith(f"read {rows} rows of 600 incidents: published ")
    comparison = json.loads(reconciled.stdout)
    assert [row for row in comparison if row["difference"]] == []
    assert sum(row["csv"] for row in comparison if row["measure"] == "incidents") == 600
    assert json.loads(letters.stdout) == []


def test_a_bad_row_publishes_nothing(cli: Cli) -> None:
    bad_row = Path(__file__).parent.parent / "data" / "servicenow" / "bad_row.csv"

    refused = cli("import", "servicenow", str(bad_row), "--publish", check=False)
    consumed = cli("consume", "--once")

    assert refused.returncode == 2
    assert refused.stderr.strip().endswith("line 3, column sys_updated_at: '14/3/2016 25:61' is not a D/M/YYYY HH:MM time")
    assert consumed.stdout.startswith("consumed 0 messages")
