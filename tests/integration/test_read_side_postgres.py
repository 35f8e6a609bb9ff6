"""The read side on PostgreSQL: every report in a read-only transaction, answers equal to
those read through the projection runner's store, no table created."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from projections.sla_queries import ClockFilter
from projections.sla_report import SlaQuestion
from ticketstream import assembly
from ticketstream.event_store import connection_info, drop_schema
from ticketstream.settings import Settings, load_settings
from tests.integration.conftest import POSTGRES_URL
from tests.unit.test_read_side import (
    API_READS, AS_OF, READ_COMMANDS, WINDOW, _every_report, api_reads, cli, close_with_late_news, fill,
)  # fmt: skip


@pytest.fixture
def store() -> Iterator[Settings]:
    url = f"{POSTGRES_URL}?schema=rs_{uuid.uuid4().hex[:12]}"
    settings = load_settings(event_store=url)
    try:
        fill(settings)
        yield settings
    finally:
        drop_schema(url)


def _tables(settings: Settings) -> list[tuple[str, str]]:
    conninfo, schema = connection_info(settings.event_store)
    with psycopg.connect(conninfo) as db:
        return db.execute(
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = %s ORDER BY 1",
            (schema,),
        ).fetchall()


def test_every_report_reads_postgresql_read_only(store: Settings) -> None:
    before = _tables(store)
    side = assembly.read_side(store)
    answers = _every_report(side)
    assert _tables(store) == before
    writable = assembly.read_side_over(assembly.open_incidents(store), store)  # the projection's own store
    question = SlaQuestion(ClockFilter(WINDOW), AS_OF)
    assert answers[3] == side.sla(question)
    assert side.sla(question).rows == writable.sla(question).rows
    assert side.sla(question).rows
    with pytest.raises(Exception, match="read-only transaction"), side.reader.reading() as c:
        c.execute("CREATE TABLE intruder (x INTEGER)")


@pytest.fixture
def closed(store: Settings) -> Settings:
    close_with_late_news(store)
    return store


_ON_POSTGRES = ("projections status", "status", "incident show", "dlq list", "dlq show")
_API_ON_POSTGRES = [p for p in API_READS if "/incidents/" in p or "dead-letters" in p or p in ("/readyz", "/metrics")]


def test_status_and_the_apis_incident_and_dead_letter_reads_write_nothing_on_postgresql(closed: Settings) -> None:
    before = _tables(closed)
    assert ("stream_times", "BASE TABLE") not in before  # the writer would make it again
    for name in _ON_POSTGRES:
        args, shows = READ_COMMANDS[name]
        result = cli(closed, *args)
        assert result.exit_code == 0 and shows in result.output, (name, result.output, result.exception)
    answers = api_reads(closed)
    for path in _API_ON_POSTGRES:
        status, body = answers[path]
        assert status == 200 and API_READS[path] in body, (path, status, body[:300])
    assert _tables(closed) == before


def test_every_session_of_the_read_side_refuses_writes_on_postgresql(store: Settings) -> None:
    side = assembly.read_side(store)
    recorder = assembly.read_only_tables(side)  # not through the reader's transactions
    with pytest.raises(Exception, match="read-only transaction"), recorder.datastore.transaction(commit=True) as c:
        c.execute("CREATE TABLE intruder (x INTEGER)")


def test_on_a_postgresql_schema_not_made_yet_the_reads_answer_empty_and_make_nothing() -> None:
    schema = f"rs_{uuid.uuid4().hex[:12]}"
    settings = load_settings(event_store=f"{POSTGRES_URL}?schema={schema}")
    try:
        for name in _ON_POSTGRES:
            result = cli(settings, *READ_COMMANDS[name][0])
            assert result.exit_code == 0 or "no " in str(result.exception), (name, result.output, result.exception)
        answers = api_reads(settings)
        assert {p: answers[p][0] for p in _API_ON_POSTGRES if answers[p][0] != 200} == {
            p: 404 for p in _API_ON_POSTGRES if "/incidents/" in p
        }
        assert answers["/api/v1/dead-letters/summary"][1] == "{}"
        conninfo, _ = connection_info(settings.event_store)
        with psycopg.connect(conninfo) as db:
            made = db.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,)).fetchone()
        assert made is None
    finally:
        drop_schema(settings.event_store)
