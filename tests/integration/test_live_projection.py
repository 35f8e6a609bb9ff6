"""`project` on the local PostgreSQL: woken by the store's NOTIFY (no polling), one active
process per store, and a standby that takes over after kill -9 with read models equal to a
clean rebuild's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from consumers.ingest import Ingest
from domain.application import Incidents
from producers.simulator import SimulationSpec, simulate
from ticketstream import assembly
from ticketstream.event_store import drop_schema, event_store_env
from ticketstream.settings import load_settings
from tests.integration.conftest import POSTGRES_URL
from tests.unit.test_ingest import messages_of
from testkit.read_models import table_rows as read_model_rows


@pytest.fixture
def store() -> Iterator[str]:
    url = f"{POSTGRES_URL}?schema=live_{uuid.uuid4().hex[:12]}"
    settings = load_settings(event_store=url)
    app = assembly.open_incidents(settings)  # creates the schema and its tables
    assembly.projection_runner(settings, app)
    app.close()
    try:
        yield url
    finally:
        drop_schema(url)


class Projector:
    """`ticketstream project` in its own process, its log lines collected as they come."""

    def __init__(self, url: str, tmp_path: Path) -> None:
        env = {**os.environ, "TICKETSTREAM_EVENT_STORE": url, "TICKETSTREAM_LOG_FORMAT": "json",
               "TICKETSTREAM_STATE_DIR": str(tmp_path / "var")}  # fmt: skip
        env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ticketstream", "project"], env=env, cwd=tmp_path,
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def said(self, event: str) -> bool:
        return any(f'"event": "{event}"' in line for line in self.lines)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)


def _wait(predicate, timeout: float, what: str) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.01)
    return time.monotonic() - started


def _read_models(url: str) -> dict[str, list[tuple[object, ...]]]:
    app = Incidents(env=event_store_env(url))
    runner = assembly.projection_runner(load_settings(event_store=url), app)
    rows = read_model_rows(runner)
    app.close()
    return rows


def _lag(url: str) -> int:
    app = Incidents(env=event_store_env(url))
    try:
        return max(s.lag for s in assembly.projection_runner(load_settings(event_store=url), app).status())
    finally:
        app.close()


def _ingest(url: str, events: list[dict[str, object]], partition: int = 0) -> None:
    app = Incidents(env=event_store_env(url))
    try:
        Ingest(app).process(messages_of(events, partition=partition))
    finally:
        app.close()


def test_a_new_event_reaches_the_read_models_at_once_without_polling(store: str, tmp_path: Path) -> None:
    events = simulate(SimulationSpec(months=1, seed=41, start=date(2025, 3, 1), incidents_per_month=30))
    projector = Projector(store, tmp_path)
    try:
        _wait(lambda: projector.said("projection_active"), 30, "the projector is active")
        latencies = []
        for n, event in enumerate(e for e in events if e["type"] == "incident.received"):
            if n == 3:
                break
            _ingest(store, [event], partition=n)
            latencies.append(_wait(lambda: _lag(store) == 0, 10, "the read models caught up"))
    finally:
        projector.stop()
    # The fallback wait is 30 s: each of these came through the NOTIFY.
    print(f"push latency (store → every read model): {[round(s, 3) for s in latencies]} s")
    assert max(latencies) < 5


def test_a_standby_takes_over_after_kill_9_and_the_read_models_end_as_a_rebuild_makes_them(
    store: str, tmp_path: Path
) -> None:
    events = simulate(SimulationSpec(months=2, seed=43, start=date(2025, 3, 1), incidents_per_month=80))
    half = len(events) // 2
    first, second = Projector(store, tmp_path), Projector(store, tmp_path)
    try:
        _wait(lambda: first.said("projection_active") or second.said("projection_active"), 30, "one is active")
        active, standby = (first, second) if first.said("projection_active") else (second, first)
        _wait(lambda: standby.said("projection_standby"), 30, "the other waits")
        assert not standby.said("projection_active")
        _ingest(store, events[:half])
        _wait(lambda: _lag(store) == 0, 60, "the active one caught up")

        _ingest(store, events[half:])
        active.process.send_signal(signal.SIGKILL)
        active.process.wait(timeout=10)
        took = _wait(lambda: standby.said("projection_active"), 30, "the standby takes over")
        _wait(lambda: _lag(store) == 0, 60, "the standby caught up")
    finally:
        first.stop()
        second.stop()
    print(f"failover: the standby was active {took:.2f} s after kill -9")
    live = _read_models(store)
    app = Incidents(env=event_store_env(store))
    assembly.projection_runner(load_settings(event_store=store), app).rebuild()
    app.close()
    assert sum(len(rows) for rows in live.values()) > 0
    assert _read_models(store) == live
