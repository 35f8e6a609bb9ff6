"""`ticketstream serve` as a real process on a real socket, over a store filled through the
real broker: the API answers what the CLI answers, and SIGTERM stops it."""

from __future__ import annotations

import json
import urllib.request
from datetime import date
from pathlib import Path

from producers.simulator import SimulationSpec, simulate, write_jsonl
from tests.integration.conftest import Cli
from tests.integration.serve_process import serving


def test_serve_answers_over_http_what_the_cli_prints(cli: Cli, tmp_path: Path) -> None:
    events = simulate(SimulationSpec(months=1, seed=61, start=date(2025, 3, 1), incidents_per_month=50))
    path = tmp_path / "march.jsonl"
    with path.open("w") as stream:
        write_jsonl(events, stream)
    cli("publish", str(path))
    cli("consume", "--once")
    cli("project", "--once")
    with serving(cli) as (base, server):
        with urllib.request.urlopen(f"{base}/healthz", timeout=2) as answer:
            assert json.load(answer) == {"status": "ok"}
        with urllib.request.urlopen(f"{base}/api/v1/reports/channels?from=2025-03&to=2025-03", timeout=10) as answer:
            over_http = json.load(answer)
        printed = json.loads(cli("report", "channels", "--from", "2025-03", "--to", "2025-03", "--format", "json").stdout)
        assert over_http == printed and sum(r["contacts"] for r in printed) > 0
    assert server.stderr is not None and "serving on loopback only" in server.stderr.read()
