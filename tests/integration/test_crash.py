"""kill -9 at random moments while consuming loses nothing and duplicates nothing."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from producers.simulator import SimulationSpec, simulate, write_jsonl
from tests.integration.conftest import Cli
from tests.integration.test_scale_out import read_models

KILLS = 20


def _stored(db: Path) -> list[tuple[str, str]]:
    """(event_id, topic) of every stored event, in a stable order.

    Versions are left out: they number an incident's events in arrival order, which Kafka
    does not fix across topics (see tests/integration/faults.py StoreSnapshot).
    """
    try:
        with sqlite3.connect(db) as c:
            rows = c.execute("SELECT topic, state FROM stored_events").fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []
    return sorted((json.loads(state)["event_id"], topic) for topic, state in rows)


def _letters(db: Path) -> list[tuple[str, int, int, str]]:
    with sqlite3.connect(db) as c:
        return c.execute(
            "SELECT source_topic, source_partition, source_offset, reason FROM dead_letters"
            " ORDER BY source_topic, source_partition, source_offset"
        ).fetchall()


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(db) as c:
            return int(c.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def _kill_after_progress(
    cli: Cli, command: str, progress: Callable[[], int], rng: random.Random, at_most: float
) -> int:
    """Start `ticketstream COMMAND`, SIGKILL it a random moment (up to ``at_most`` s) after
    ``progress()`` has moved; return how far it moved."""
    before = progress()
    process = subprocess.Popen(
        [sys.executable, "-m", "ticketstream", command],
        env=cli.env, cwd=cli.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while progress() == before and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(rng.uniform(0.0, at_most))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return progress() - before


def _projected(db: Path) -> int:
    try:
        with sqlite3.connect(db) as c:
            row = c.execute("SELECT MIN(notification_id) FROM projection_tracking").fetchone()
    except sqlite3.OperationalError:  # not created yet
        return 0
    return int(row[0] or 0)


@pytest.mark.timeout(900)
def test_killing_the_consumer_twenty_times_mid_ingest_gives_the_same_store_as_a_clean_run(
    cli: Cli, tmp_path: Path
) -> None:
    events = simulate(SimulationSpec(months=12, seed=21, start=date(2025, 1, 1)))
    path = tmp_path / "year.jsonl"
    with path.open("w") as stream:
        write_jsonl(events, stream)
    cli("publish", str(path))
    cli.env["TICKETSTREAM_MAX_POLL_RECORDS"] = "5"  # many small transactions to land in
    crashed, clean = tmp_path / "events.db", tmp_path / "clean.db"
    rng = random.Random(5)

    progress = [
        _kill_after_progress(cli, "consume", lambda: _count(crashed), rng, 0.15) for _ in range(KILLS)
    ]
    cli("consume", "--once")
    cli.env["TICKETSTREAM_EVENT_STORE"] = str(clean)
    cli.env["TICKETSTREAM_CONSUMER_GROUP"] += "-clean"
    cli("consume", "--once")

    clean_models = read_models(cli)
    cli.env["TICKETSTREAM_EVENT_STORE"] = str(crashed)
    cli.env["TICKETSTREAM_PROJECT_BATCH_SIZE"] = "5"  # many small transactions to land in
    projected = [
        _kill_after_progress(cli, "project", lambda: _projected(crashed), rng, 0.05) for _ in range(3)
    ]

    assert all(step > 0 for step in progress), progress  # every kill landed mid-ingest
    assert sum(progress) < len(events)
    assert [e for e, _ in _stored(crashed)] == sorted(str(e["event_id"]) for e in events)
    assert _stored(crashed) == _stored(clean)
    assert _letters(crashed) == _letters(clean)
    assert all(step > 0 for step in projected), projected  # every kill landed mid-projection
    assert sum(projected) < len(events)
    assert read_models(cli) == clean_models
