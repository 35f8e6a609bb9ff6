"""`report quality`: the counter-metrics per month and department, as of any moment, from the
incident_quality read model."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from consumers.ingest import Ingest
from ticketstream import assembly, reports
from ticketstream.settings import load_settings
from tests.unit.test_ingest import T0, Feed, open_app, wire



@pytest.fixture
def side(tmp_path: Path):  # type: ignore[no-untyped-def]
    app = open_app(tmp_path / "e.db")
    feed = Feed()
    events = [
        wire("received", "INC-1"), wire("resolved", "INC-1", hours=2), wire("rated", "INC-1", hours=3, rating="good"),
        wire("received", "INC-2"), wire("escalated", "INC-2", hours=1), wire("resolved", "INC-2", hours=5),
        wire("reopened", "INC-2", hours=15), wire("resolved", "INC-2", hours=20), wire("rated", "INC-2", hours=21, rating="bad"),
        wire("received", "INC-3"), wire("resolved", "INC-3", hours=4), wire("reopened", "INC-3", hours=104),
        wire("received", "INC-4"), wire("reassigned", "INC-4", hours=1, department="tech_support"),
        wire("resolved", "INC-4", hours=6),
        wire("received", "INC-5"),
    ]  # fmt: skip
    Ingest(app).process([feed(e) for e in reversed(events)])  # arrival order does not matter
    settings = load_settings(event_store=str(tmp_path / "e.db"))
    assembly.projection_runner(settings, app).catch_up()
    yield assembly.read_side(settings)
    app.close()


def _quality(side, hours_after: float):  # type: ignore[no-untyped-def]
    return reports.quality_report(side, "2025-03", "2025-03", None, T0 + timedelta(hours=hours_after)).rows


def test_the_counter_metrics_of_a_month(side) -> None:  # type: ignore[no-untyped-def]
    [row] = _quality(side, 1000)

    assert (row["incidents"], row["resolved"]) == (5, 4)
    assert (row["rated_good"], row["rated_bad"], row["rated_neutral"]) == (1, 1, 0)
    assert row["response_rate"] == 2 / 4 and row["good_share"] == 1 / 2
    assert row["reopen_rate"] == 2 / 4  # INC-2 and INC-3
    assert row["quick_reopen_rate"] == 1 / 4  # INC-2 after 10 h; INC-3 after 100 h is not quick
    assert row["first_contact_resolution"] == 1 / 4  # INC-1 only: escalated, reopened, reassigned
    assert row["escalation_rate"] == 1 / 5


def test_as_of_a_moment_only_the_facts_by_then_count(side) -> None:  # type: ignore[no-untyped-def]
    [early] = _quality(side, 4.5)  # INC-1 and INC-3 resolved; INC-2 and INC-4 not yet

    assert (early["incidents"], early["resolved"]) == (5, 2)
    assert early["first_contact_resolution"] == 1.0 and early["reopen_rate"] == 0.0
    assert early["response_rate"] == 1 / 2
    [later] = _quality(side, 50)  # INC-3 not reopened yet
    assert later["reopen_rate"] == 1 / 4 and later["first_contact_resolution"] == 2 / 4


def test_the_routing_at_the_receipt_is_not_a_reassignment(tmp_path: Path) -> None:
    app = open_app(tmp_path / "e.db")
    feed = Feed()
    Ingest(app).process([feed(e) for e in (
        wire("received", "INC-9"), wire("reassigned", "INC-9", department="tech_support"),
        wire("resolved", "INC-9", hours=3),
    )])  # fmt: skip
    settings = load_settings(event_store=str(tmp_path / "e.db"))
    assembly.projection_runner(settings, app).catch_up()

    [row] = _quality(assembly.read_side(settings), 100)

    assert row["first_contact_resolution"] == 1.0
    app.close()
