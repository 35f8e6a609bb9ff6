"""`ticketstream serve` as a real process on a real socket, over a store filled through the
real broker: the API answers what the CLI answers, and SIGTERM stops it."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

from producers.simulator import SimulationSpec, simulate, write_jsonl
from tests.integration.conftest import Cli


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_over_http_what_the_cli_prints(cli: Cli, tmp_path: Path) -> None:
    events = simulate(SimulationSpec(months=1, seed=61, start=date(2025, 3, 1), incidents_per_month=50))
    path = tmp_path / "march.jsonl"
    with path.open("w") as stream:
        write_jsonl(events, stream)
    cli("publish", str(path))
    cli("consume", "--once")
    cli("project", "--once")
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "ticketstream", "serve", "--port", str(port)],
                              env=cli.env, cwd=cli.cwd, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as answer:
                    assert json.load(answer) == {"status": "ok"}
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        with urllib.request.urlopen(f"{base}/api/v1/reports/channels?from=2025-03&to=2025-03", timeout=10) as answer:
            over_http = json.load(answer)
        printed = json.loads(cli("report", "channels", "--from", "2025-03", "--to", "2025-03", "--format", "json").stdout)
        assert over_http == printed and sum(r["contacts"] for r in printed) > 0
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert server.stderr is not None and "serving on loopback only" in server.stderr.read()
