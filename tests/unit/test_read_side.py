"""The read side's front door: every report reads a store opened read-only and changes
nothing in it; the SLA summary from stored outcomes equals evaluating every clock; a store
not made yet gives empty answers and stays unmade."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

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
from ticketstream import assembly, editions
from ticketstream.api import create_app
from ticketstream.cli import app as cli_app
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


# Every read path of the CLI and the API besides the reports above, with what its answer on
# the closed store (`closed`) must show: the proof that the read reached the data.
INCIDENT = "INC-2025-000001"
READ_COMMANDS: dict[str, tuple[list[str], str]] = {
    "projections status": (["projections", "status", "--format", "json"], '"projection": "sla_clocks"'),
    "status": (["status", "--format", "json"], '"open_dead_letters": {"not_json": 1}'),
    "published": (["report", "dynamics", "--from", "2025-03", "--to", "2025-03", "--edition", "published",
                   "--format", "json"], '"month": "2025-03"'),
    "diff": (["report", "dynamics", "--from", "2025-03", "--to", "2025-03", "--edition", "diff", "--format", "json"],
             "+1 received events that arrived"),
    "sla published": (["report", "sla", "--from", "2025-03", "--to", "2025-03", "--edition", "published",
                       "--format", "json"], '"clock": "resolution"'),
    "root causes diff": (["report", "root-causes", "--from", "2025-03", "--to", "2025-03", "--edition", "diff",
                          "--format", "json"], "["),
    "month list": (["month", "list", "--format", "json"], '"month": "2025-03"'),
    "repeat contacts": (["report", "repeat-contacts", "--from", "2025-01", "--format", "json"], "["),
    "incident show": (["incident", "show", INCIDENT], f"Incident {INCIDENT}"),
    "incident explain": (["incident", "explain", INCIDENT], "policy version"),
    "dlq list": (["dlq", "list", "--format", "json"], '"reason": "not_json"'),
    "dlq show": (["dlq", "show", "1"], "not_json"),
    "config check": (["config", "check"], "SLA read model: computed under these rules"),
}  # fmt: skip
API_READS: dict[str, str] = {
    "/readyz": '"status":"ready"',
    "/metrics": 'ticketstream_dead_letters_open{reason="not_json"} 1.0',
    f"/api/v1/incidents/{INCIDENT}": '"kind": "received"',
    f"/api/v1/incidents/{INCIDENT}/explain": "policy version",
    "/api/v1/dead-letters": '"reason": "not_json"',
    "/api/v1/dead-letters/summary": '{"not_json": 1}',
    "/api/v1/reports/repeat-contacts?from=2025-01": "[",
    "/api/v1/projections": '"projection": "sla_clocks"',
}
# Not there without a store: the incident, the dead letter.
_NOT_FOUND = {"incident show", "incident explain", "dlq show"}


@pytest.fixture(scope="module")
def closed(store: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A copy of the store, closed (see ``close_with_late_news``)."""
    path = tmp_path_factory.mktemp("closed") / "store.db"
    shutil.copy(store.event_store, path)
    settings = load_settings(event_store=str(path))
    close_with_late_news(settings)
    return settings


def close_with_late_news(settings: Settings) -> None:
    """Add a dead letter to a filled store, close March 2025, then project a late March event;
    and drop a table the writer makes when it opens a store (so that a read path opening the
    store writable would make it again)."""
    app = assembly.open_incidents(settings)
    topic = TopicMap().topic_for("incident.received")
    Ingest(app).process([Message(Coordinates(topic, 0, 10**6), b"INC-BAD", b"{")])
    runner = assembly.projection_runner(settings, app)
    editions.close_month(runner, assembly.read_side_over(app, settings), "2025-03", datetime.now(UTC))
    late = next(e for e in simulate(SimulationSpec(months=4, seed=3, incidents_per_month=80))
                if e["type"] == "incident.received" and str(e["occurred_at"]).startswith("2025-03"))  # fmt: skip
    late = {**late, "event_id": "7d3c1a52-95a4-4f43-9d2e-3f0b2a6c0e11", "incident_id": "INC-LATE-1"}
    Ingest(app).process([Message(Coordinates(topic, 0, 10**6 + 1), b"INC-LATE-1", json.dumps(late).encode())])
    runner.catch_up()
    recorder = assembly.ingest_recorder(app)
    with recorder.datastore.transaction(commit=True) as c:
        recorder.enter(c)
        c.execute("DROP TABLE stream_times")
    app.close()


def cli(settings: Settings, *args: str) -> Result:
    """A `ticketstream` command, in this process, over the store of ``settings`` (the logging
    it configures, bound to the runner's captured stderr, is put back as it was)."""
    env = {"TICKETSTREAM_EVENT_STORE": settings.event_store, "TICKETSTREAM_STATE_DIR": str(settings.state_dir),
           "KAFKA_BOOTSTRAP_SERVERS": None, "COLUMNS": "200"}  # fmt: skip
    logs, handlers = structlog.get_config(), logging.getLogger().handlers[:]
    try:
        return CliRunner().invoke(cli_app, list(args), env=env)
    finally:
        structlog.configure(**logs)
        logging.getLogger().handlers[:] = handlers


def api_reads(settings: Settings) -> dict[str, tuple[int, str]]:
    """Every API read path's status and body over the store of ``settings``."""
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    return {path: (r.status_code, r.text) for path in API_READS for r in [client.get(path)]}


def _changes_nothing(path: Path, read: Callable[[], object]) -> None:
    before = _fingerprint(path)
    read()
    assert _fingerprint(path) == before
    assert "stream_times" not in {name for _, name, _ in before[0]}  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", READ_COMMANDS)
def test_every_read_command_reads_the_store_read_only(closed: Settings, name: str) -> None:
    args, shows = READ_COMMANDS[name]
    results: list[Result] = []
    _changes_nothing(Path(closed.event_store), lambda: results.append(cli(closed, *args)))
    [result] = results
    assert result.exit_code == 0, (result.output, result.exception)
    assert shows in result.output


def test_every_api_read_reads_the_store_read_only(closed: Settings) -> None:
    answers: dict[str, tuple[int, str]] = {}
    _changes_nothing(Path(closed.event_store), lambda: answers.update(api_reads(closed)))
    for path, shows in API_READS.items():
        status, body = answers[path]
        assert status == 200 and shows in body, (path, status, body[:300])


@pytest.mark.parametrize("name", READ_COMMANDS)
def test_a_read_command_on_a_store_not_made_yet_answers_empty_and_makes_nothing(tmp_path: Path, name: str) -> None:
    settings = load_settings(event_store=str(tmp_path / "not-yet" / "store.db"), state_dir=str(tmp_path / "var"))
    result = cli(settings, *READ_COMMANDS[name][0])
    if name in _NOT_FOUND:
        assert "no " in str(result.exception) and result.exception.__class__.__name__ != "OperationalError"
    else:
        assert result.exit_code == 0, (result.output, result.exception)
    assert os.listdir(tmp_path) == []  # no store, not even its directory


def test_the_api_on_a_store_not_made_yet_answers_empty_then_reads_it_once_made(closed: Settings, tmp_path: Path) -> None:
    path = tmp_path / "not-yet" / "store.db"
    settings = load_settings(event_store=str(path))
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    before = {p: client.get(p) for p in API_READS}
    assert os.listdir(tmp_path) == []
    assert {p: r.status_code for p, r in before.items() if r.status_code != 200} == {
        f"/api/v1/incidents/{INCIDENT}": 404, f"/api/v1/incidents/{INCIDENT}/explain": 404,
    }  # fmt: skip
    assert before["/api/v1/dead-letters/summary"].json() == {} and before["/api/v1/dead-letters"].json() == []
    path.parent.mkdir()
    shutil.copy(closed.event_store, path)  # the store made (and filled) while serving
    assert client.get("/api/v1/dead-letters/summary").json() == {"not_json": 1}
