"""ServiceNow import benchmark: rows/s and peak memory of `import servicenow -o` at growing sizes.

Run by hand (`.venv/bin/python bench/servicenow_import.py`). It generates seeded exports of
each size (testkit), imports each to JSONL with the real CLI in a child process, and prints
rows/s and the child's peak RSS: flat memory means the peak does not grow with the file.
With ``--pipeline`` the largest export also goes through a real embedded broker (import
--publish, consume --once, project --once) and is reconciled: differences and dead letters
are printed (both should be 0).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from producers.servicenow_export import COLUMNS
from testkit.servicenow_export import ExportSpec, export_rows
from ticketstream.embedded_broker import EmbeddedBroker

ROWS_PER_INCIDENT = 5.9  # about what the generator makes (and the public log has)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[25_000, 50_000, 100_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pipeline", action="store_true", help="also publish, consume, reconcile")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for rows in args.rows:
            export = directory / f"export-{rows}.csv"
            started = time.perf_counter()
            written = _generate(export, rows, args.seed)
            size = export.stat().st_size / 1e6
            print(f"generated {written:,} rows ({size:.1f} MB) in {time.perf_counter() - started:.1f} s")
            output = directory / "out.jsonl"
            seconds, peak = _measured(["import", "servicenow", str(export), "-o", str(output)], directory)
            events = sum(1 for _ in output.open())
            print(f"import -o: {written:,} rows → {events:,} events in {seconds:.1f} s"
                  f" = {written / seconds:,.0f} rows/s, peak RSS {peak / 1024:.0f} MiB")  # fmt: skip
        if args.pipeline:
            _pipeline(directory, export)


def _generate(path: Path, rows: int, seed: int) -> int:
    """Write whole incidents until at least ``rows`` rows; return how many were written."""
    spec = ExportSpec(incidents=int(rows / ROWS_PER_INCIDENT * 1.2), seed=seed, days=365)
    count, last = 0, None
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in export_rows(spec):
            if count >= rows and row["number"] != last:
                break
            writer.writerow([row[name] for name in COLUMNS])
            count, last = count + 1, row["number"]
    return count


def _measured(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, int]:
    """Run the CLI; return its wall-clock seconds and its own peak RSS in KiB (from wait4)."""
    environment = {**os.environ, "TICKETSTREAM_EVENT_STORE": str(cwd / "bench.db"),
                   "TICKETSTREAM_LOG_LEVEL": "WARNING", **(env or {})}  # fmt: skip
    started = time.perf_counter()
    with (cwd / "stderr.txt").open("w+") as err:
        child = subprocess.Popen(
            [sys.executable, "-m", "ticketstream", *args], cwd=cwd, env=environment,
            stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        if child.returncode:
            err.seek(0)
            raise SystemExit(f"ticketstream {' '.join(args)} failed:\n{err.read()}")
    return seconds, usage.ru_maxrss


def _pipeline(directory: Path, export: Path) -> None:
    with EmbeddedBroker(log_file=directory / "broker.log") as broker:
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "TICKETSTREAM_STATE_DIR": str(directory),
        }
        steps = (
            ["import", "servicenow", str(export), "--publish"], ["consume", "--once"],
            ["project", "--once"],
        )  # fmt: skip
        for step in steps:
            seconds, peak = _measured(step, directory, env)
            print(f"{' '.join(step[:2])}: {seconds:.1f} s, peak RSS {peak / 1024:.0f} MiB")
        rows = _json(["import", "servicenow", str(export), "--reconcile", "--format", "json"], directory, env)
        letters = _json(["dlq", "list", "--all", "--format", "json"], directory, env)
    differing = [row for row in rows if row["difference"]]
    print(f"reconciled {len(rows)} rows: {len(differing)} differences; dead letters: {len(letters)}")


def _json(args: list[str], cwd: Path, env: dict[str, str]) -> list[dict[str, object]]:
    environment = {**os.environ, "TICKETSTREAM_EVENT_STORE": str(cwd / "bench.db"), **env}
    result = subprocess.run(
        [sys.executable, "-m", "ticketstream", *args], cwd=cwd, env=environment,
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


if __name__ == "__main__":
    main()
