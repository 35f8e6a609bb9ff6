"""Projection lag in notifications and in time, as `projections status` and `status` show it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from consumers.ingest import Ingest
from ticketstream import assembly, reports
from ticketstream.settings import load_settings
from tests.unit.test_ingest import messages_of, open_app, wire


def test_a_read_model_behind_says_by_how_much_event_time_and_wall_time(tmp_path: Path) -> None:
    settings = load_settings(event_store=str(tmp_path / "e.db"))
    app = open_app(tmp_path / "e.db")
    runner = assembly.projection_runner(settings, app)
    Ingest(app).process(messages_of([wire("received", "INC-1"), wire("resolved", "INC-1", hours=30)]))
    later = datetime.now(UTC) + timedelta(minutes=5)

    side = assembly.read_side(settings)
    behind = {r["projection"]: r for r in side.projection_status(later).rows}

    assert behind["channel_mix"]["lag"] == 2
    sla = behind["sla_clocks"]
    assert sla["lag"] == 2
    assert sla["event_time_behind_seconds"] == 30 * 3600  # received to resolved
    assert 300 <= float(str(sla["wall_time_behind_seconds"])) < 360  # stored just now, asked 5 min later
    runner.catch_up()
    caught_up = {r["projection"]: r for r in side.projection_status(later).rows}
    assert all(
        (r["lag"], r["event_time_behind_seconds"], r["wall_time_behind_seconds"]) == (0, 0.0, 0.0)
        for r in caught_up.values()
    )
    app.close()


def test_the_status_screen_counts_open_dead_letters_by_reason(tmp_path: Path) -> None:
    settings = load_settings(event_store=str(tmp_path / "e.db"))
    app = open_app(tmp_path / "e.db")
    messages = messages_of([wire("received", "INC-1")])
    bad = [m.__class__(m.coordinates.__class__(m.coordinates.topic, 0, 10 + i), m.key, value)
           for i, value in enumerate([b"{", b"[]", b"{"]) for m in messages[:1]]  # fmt: skip
    Ingest(app).process([*messages, *bad])

    side = assembly.read_side(settings)
    screen = reports.status_screen(side, assembly.read_only_tables(side), "not asked: no broker", datetime.now(UTC))

    assert screen.open_dead_letters == {"not_an_object": 1, "not_json": 2}
    assert screen.partitions == "not asked: no broker"
    app.close()
