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
from tests.unit.test_read_side import AS_OF, WINDOW, _every_report, fill


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
