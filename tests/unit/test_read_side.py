"""The read side's front door: every report reads a store opened read-only and changes
nothing in it; the SLA summary from stored outcomes equals evaluating every clock; a store
not made yet gives empty answers and stays unmade."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from consumers.ingest import Ingest
from consumers.records import Coordinates, Message
from contracts.routing import TopicMap
from producers.simulator import SimulationSpec, simulate
from projections import sla_queries, sla_window
from projections.queries import Period
from projections.read_side import MONTHLY_REPORTS, ReadSide
from projections.sla_queries import ClockFilter
from projections.sla_report import EVERY_MONTH, SlaQuestion
from projections.sla_summary import summarise
from ticketstream import assembly
from ticketstream.settings import Settings, load_settings

AS_OF = datetime(2025, 3, 20, 12, tzinfo=UTC)  # inside the history: many clocks still open
WINDOW = Period("2025-02", "2025-03")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Four simulated months ingested and projected into an SQLite file, then closed."""
    path = tmp_path_factory.mktemp("read_side") / "store.db"
    settings = load_settings(event_store=str(path))
    fill(settings)
    return settings


def fill(settings: Settings) -> None:
    """Ingest four simulated months into the configured store and project them."""
    app = assembly.open_incidents(settings)
    topics, offsets, messages = TopicMap(), dict[str, int](), []
    for event in simulate(SimulationSpec(months=4, seed=3, incidents_per_month=80)):
        topic = topics.topic_for(str(event["type"]))
        offsets[topic] = offsets.get(topic, -1) + 1
        value = json.dumps(event).encode()
        messages.append(Message(Coordinates(topic, 0, offsets[topic]), str(event["incident_id"]).encode(), value))
    Ingest(app).process(messages)
    assembly.projection_runner(settings, app).catch_up()
    app.close()


def _every_report(side: ReadSide) -> list[object]:
    window = SlaQuestion(ClockFilter(WINDOW), AS_OF)
    answers: list[object] = [side.monthly(name, WINDOW, None) for name in MONTHLY_REPORTS]
    answers += [
        side.sla(window), side.sla(window, listing=True), side.sla(window, "running"),
        side.sla(SlaQuestion(ClockFilter(WINDOW), AS_OF, "current")), side.root_causes(window),
        side.root_causes(window, "category", monthly=True), side.at_risk(window),
        side.quality(WINDOW, None, AS_OF), side.projection_status(AS_OF), side.departments("2025-03"),
        side.explain("INC-2025-000001", AS_OF),
    ]  # fmt: skip
    return answers


def _fingerprint(path: Path) -> tuple[object, ...]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        schema = db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    return (schema, hashlib.sha256(path.read_bytes()).hexdigest(), os.stat(path).st_mtime_ns)


def test_every_report_reads_a_read_only_file_and_changes_nothing(store: Settings) -> None:
    path = Path(store.event_store)
    before = _fingerprint(path)
    answers = _every_report(assembly.read_side(store))
    assert _fingerprint(path) == before
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    sla, listing = answers[3], answers[4]
    assert sla.rows and listing.rows  # type: ignore[attr-defined]
    assert {c.name: c.kind for c in sla.columns}["compliance"] == "fraction"  # type: ignore[attr-defined]


def test_the_read_only_connection_refuses_writes(store: Settings) -> None:
    side = assembly.read_side(store)
    with pytest.raises(Exception, match="readonly"), side.reader.reading() as c:
        c.execute("CREATE TABLE intruder (x INTEGER)")


@pytest.mark.parametrize("hours", [0, 24 * 12, 24 * 40, 24 * 90])
def test_the_summary_from_stored_outcomes_equals_evaluating_every_clock(store: Settings, hours: int) -> None:
    side = assembly.read_side(store)
    as_of = AS_OF + timedelta(hours=hours)
    open_somewhere = False
    for which in (ClockFilter(WINDOW), ClockFilter(EVERY_MONTH, "call_centre"), ClockFilter(WINDOW, None, "resolution")):
        with side.reader.reading() as c:
            fast = sla_window.outcomes(c, which, side.rules, as_of)
            every = sla_queries.evaluate(sla_queries.stored_clocks(c, which), side.rules, as_of)
        expected = sla_queries.summary(every)
        assert summarise(fast) == expected
        with side.reader.reading() as c:
            in_sql = sla_window.summary(c, which, side.rules, as_of)
        assert in_sql == (expected, sla_queries.policy_versions(every))
        assert fast and len(fast) == len(every)
        open_somewhere |= any(not o.finished for o in fast)
    assert hours > 24 * 60 or open_somewhere  # the moment leaves clocks open: both paths are used


def test_open_clocks_month_by_month_are_those_open_at_the_moment(store: Settings) -> None:
    side = assembly.read_side(store)
    which = ClockFilter(EVERY_MONTH, open_at=AS_OF)
    with side.reader.reading() as c:
        found = sla_window.open_at(c, which, side.zone)
        expected = sla_queries.stored_clocks(c, which)
    assert found and [s.row for s in found] == [s.row for s in expected]


def test_a_store_not_made_yet_answers_empty_and_stays_unmade(tmp_path: Path) -> None:
    settings = load_settings(event_store=str(tmp_path / "absent.db"))
    side = assembly.read_side(settings)
    answers = _every_report_but_explain(side)
    assert all(not a.rows for a in answers if hasattr(a, "rows") and a is not answers[-1])
    assert not (tmp_path / "absent.db").exists()


def _every_report_but_explain(side: ReadSide) -> list[object]:
    window = SlaQuestion(ClockFilter(WINDOW), AS_OF)
    return [
        *(side.monthly(name, WINDOW, None) for name in MONTHLY_REPORTS), side.sla(window),
        side.sla(window, listing=True), side.root_causes(window), side.at_risk(window),
        side.quality(WINDOW, None, AS_OF), side.projection_status(AS_OF),
    ]  # fmt: skip
