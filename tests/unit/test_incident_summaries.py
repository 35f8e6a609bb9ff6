"""The incident_summaries read model: one row per incident, the same whatever the arrival order."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.translation import to_fact
from contracts.events import EventBase
from domain.application import Incidents
from domain.errors import AlreadyReceived
from producers.servicenow import ImportOptions, ImportSummary, import_export
from producers.servicenow_tally import tally_export
from projections import incident_queries
from projections.incident_summaries import COLUMNS, IncidentSummaries
from projections.queries import Period
from projections.runner import ProjectionRunner
from testkit.servicenow_export import ExportSpec, write_export
from ticketstream.event_store import event_store_env
from ticketstream.reconciliation import differences, reconciliation_rows

DATA = Path(__file__).parent.parent / "data" / "servicenow"
MOSCOW = ZoneInfo("Europe/Moscow")
EVERY_MONTH = Period("0000-01", "9999-12")
Row = dict[str, object]


def _imported(data: bytes) -> list[EventBase]:
    return list(import_export(io.BytesIO(data), ImportOptions(MOSCOW), ImportSummary()))


def _export(spec: ExportSpec) -> bytes:
    text = io.StringIO()
    write_export(spec, text)
    return text.getvalue().encode()


@cache
def edge_cases() -> tuple[EventBase, ...]:
    files = sorted(p for p in DATA.glob("*.csv") if p.stem != "bad_row")
    return tuple(e for path in files for e in _imported(path.read_bytes()))


@cache
def small_export() -> tuple[EventBase, ...]:
    return (*edge_cases(), *_imported(_export(ExportSpec(incidents=25, seed=3))))


def _stored(app: Incidents, events: Sequence[EventBase], batch: int) -> None:
    """Record the events in this arrival order, ``batch`` at a time; a fact that cannot apply
    yet (its incident not received, its pause before the resume it needs) is offered again
    with the next batch, as the consumer's parking does."""
    waiting: list[EventBase] = []
    for start in range(0, len(events), batch):
        waiting = _record(app, [*waiting, *events[start : start + batch]])
    while waiting:
        still = _record(app, waiting)
        assert len(still) < len(waiting), "facts that never apply"
        waiting = still


def _record(app: Incidents, events: list[EventBase]) -> list[EventBase]:
    by_id = {str(e.event_id): e for e in events}
    decision = app.decide(to_fact(e) for e in events)
    app.save_decision(decision)
    assert not any(isinstance(error, AlreadyReceived) for _, error in decision.rejected)
    return [by_id[fact.event_id] for fact, _ in decision.rejected]


@contextmanager
def _store(events: Sequence[EventBase], batch: int = 10_000) -> Iterator[Incidents]:
    with tempfile.TemporaryDirectory() as directory:
        app = Incidents(env=event_store_env(str(Path(directory) / "e.db")))
        _stored(app, events, batch)
        yield app
        app.close()


def _summaries(app: Incidents, batch_size: int = 10_000) -> list[Row]:
    runner = ProjectionRunner(app, [IncidentSummaries(app.histories, MOSCOW)], batch_size=batch_size)
    runner.catch_up()
    with runner.transaction(commit=False) as c:
        c.execute(f"SELECT {', '.join(COLUMNS)} FROM incident_summaries ORDER BY incident_id")
        return [dict(zip(COLUMNS, row)) for row in c.fetchall()]


@cache
def reference() -> tuple[Row, ...]:
    with _store(small_export()) as app:
        return tuple(_summaries(app))


def _of(rows: Sequence[Row], incident_id: str) -> Row:
    return next(row for row in rows if row["incident_id"] == incident_id)


def test_a_reopened_and_closed_again_incident_sums_up_both_resolutions() -> None:
    row = _of(reference(), "INC0000103")

    assert {k: row[k] for k in ("status", "resolutions", "reopens", "root_cause", "resolution")} == {
        "status": "closed", "resolutions": 2, "reopens": 1, "root_cause": "code 9", "resolution": "resolved",
    }  # fmt: skip
    assert (row["first_resolved_at"], row["last_resolved_at"], row["closed_at"]) == (
        "2016-03-03T12:00:00+03:00", "2016-03-09T15:00:00+03:00", "2016-03-14T15:00:00+03:00",
    )  # fmt: skip
    assert (row["month"], row["received_at"]) == ("2016-03", "2016-03-03T08:00:00+03:00")


def test_the_final_classification_and_holder_are_reported_beside_the_source_department() -> None:
    row = _of(reference(), "INC0000107")

    assert {k: row[k] for k in ("department", "holder", "channel", "category", "priority")} == {
        "department": "Group 56", "holder": "Group 24", "channel": "self_service",
        "category": "Category 42", "priority": "high",
    }  # fmt: skip
    assert (row["reclassifications"], row["reassignments"]) == (4, 1)


def test_one_row_per_incident_with_its_status() -> None:
    rows = reference()

    assert len(rows) == len({e.incident_id for e in small_export()})
    assert _of(rows, "INC0000104")["status"] == "closed"
    assert _of(rows, "INC0000106")["status"] == "resolved"
    assert {row["status"] for row in rows} <= {"open", "paused", "resolved", "closed"}
    assert {row["source"] for row in rows} == {"servicenow"}


@settings(max_examples=15)
@given(st.data())
def test_any_arrival_order_and_any_batch_split_give_identical_rows(data: st.DataObject) -> None:
    events = data.draw(st.permutations(small_export()), label="arrival order")
    ingest_batch = data.draw(st.integers(1, 60), label="ingest batch")
    project_batch = data.draw(st.integers(1, 200), label="projection batch")

    with _store(events, ingest_batch) as app:
        rows = _summaries(app, project_batch)

    assert tuple(rows) == reference()


def test_rebuilding_gives_the_same_rows() -> None:
    with _store(small_export(), batch=7) as app:
        runner = ProjectionRunner(app, [IncidentSummaries(app.histories, MOSCOW)], batch_size=13)
        runner.catch_up()
        runner.rebuild("incident_summaries")
        rows = _summaries(app)

    assert tuple(rows) == reference()


def test_a_generated_export_reconciles_with_its_summaries_without_a_difference() -> None:
    data = _export(ExportSpec(incidents=400, seed=5, days=70, duplicate_share=0.02))

    with _store(_imported(data), batch=500) as app:
        runner = ProjectionRunner(app, [IncidentSummaries(app.histories, MOSCOW)])
        runner.catch_up()
        with runner.transaction(commit=False) as c:
            counts = incident_queries.monthly_counts(c, EVERY_MONTH, "servicenow")
            causes = incident_queries.root_cause_counts(c, EVERY_MONTH, "servicenow")
    rows = reconciliation_rows(tally_export(io.StringIO(data.decode()), MOSCOW, MOSCOW), counts, causes)

    assert differences(rows) == 0
    assert {row["month"] for row in rows} == {"2016-02", "2016-03", "2016-04", "2016-05"}
    assert sum(int(str(r["csv"])) for r in rows if r["measure"] == "incidents") == 400
    assert any(r["measure"] == "reopened" and r["csv"] for r in rows)
