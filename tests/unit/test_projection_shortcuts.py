"""The projection hot path's shortcuts give what the long way gives: histories carried from
the previous batch, months kept per day, paused minutes without trace lines, one timeline
order shared by the read models."""

from __future__ import annotations

import pytest

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.ingest import Ingest
from domain.calendar import BusinessCalendar
from domain.clocks import ClockRow, status_as_of, trace
from domain.incident import Incident, in_timeline_order
from domain.incident_timeline import ordered_incident
from domain.sla_rules import default_rules
from projections.month import month_of
from projections.per_incident import HistoryMemo
from projections.read_model import ReadModel
from projections.runner import ProjectionRunner
from projections.incident_summaries import IncidentSummaries
from projections.sla_clocks import SlaClocks
from tests.unit.test_ingest import messages_of, open_app, wire

MOSCOW = ZoneInfo("Europe/Moscow")
ZONES = [
    ZoneInfo(name)
    for name in (
        "Europe/Moscow", "America/Havana", "America/Sao_Paulo", "Australia/Lord_Howe",
        "Pacific/Apia", "America/Santiago", "Asia/Tehran", "America/St_Johns", "UTC",
    )
]  # fmt: skip


def _tables(runner: ProjectionRunner) -> dict[str, list[tuple[object, ...]]]:
    with runner.transaction(commit=False) as c:
        found = {}
        for table in ("sla_clocks", "incident_summaries"):
            c.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3")
            found[table] = [tuple(row) for row in c.fetchall()]
        return found


@pytest.mark.parametrize(("recent_events", "read_again"), [(30_000, []), (3, ["INC-1"])])
def test_a_batch_continues_the_histories_recent_batches_touched_without_reading_them(
    tmp_path: Path, recent_events: int, read_again: list[str]
) -> None:
    app = open_app(tmp_path / "e.db")
    asked: list[str] = []

    def load(ids: Sequence[str]) -> Mapping[str, Sequence[Incident.Event]]:
        asked.extend(ids)
        return app.histories(ids)

    memo = HistoryMemo(load, recent_events=recent_events)
    models: list[ReadModel] = [SlaClocks(default_rules(), memo, MOSCOW), IncidentSummaries(memo, MOSCOW)]
    runner = ProjectionRunner(app, models, histories=memo)
    Ingest(app).process(messages_of([wire("received"), wire("escalated", hours=1)]))
    runner.catch_up()
    Ingest(app).process(messages_of([wire("resolved", hours=3)], partition=1))
    runner.catch_up()
    Ingest(app).process(messages_of([wire("received", "INC-2", hours=4)], partition=2))
    runner.catch_up()
    Ingest(app).process(messages_of([wire("closed", "INC-1", hours=5)], partition=3))
    Ingest(app).process(messages_of([wire("paused", "INC-2", hours=6)], partition=4))
    runner.catch_up()

    # The second batch continued INC-1 from the first, the last INC-2 from the one before it,
    # and INC-1 from the second if it was still kept (3 of INC-1's events, then INC-2's one,
    # are more than 3 kept events: INC-1 was let go, so it was read again).
    assert asked == read_again
    carried = _tables(runner)
    fresh = ProjectionRunner(
        app, [SlaClocks(default_rules(), app.histories, MOSCOW), IncidentSummaries(app.histories, MOSCOW)]
    )
    for name in ("sla_clocks", "incident_summaries"):
        fresh.rebuild(name)
    assert _tables(fresh) == carried
    app.close()


def test_histories_that_do_not_continue_by_version_are_read_again(tmp_path: Path) -> None:
    app = open_app(tmp_path / "e.db")
    Ingest(app).process(messages_of([wire("received"), wire("escalated", hours=1)]))
    Ingest(app).process(messages_of([wire("resolved", hours=3)], partition=1))
    first, second, third = app.histories(["INC-1"])["INC-1"]
    asked: list[str] = []

    def load(ids: Sequence[str]) -> Mapping[str, Sequence[Incident.Event]]:
        asked.extend(ids)
        return app.histories(ids)

    memo = HistoryMemo(load)
    memo.touched([first])
    memo.forget()
    # The previous batch knew version 1 only: version 3 does not continue it.
    assert memo.touched([third]).histories["INC-1"] == [first, second, third]
    assert asked == ["INC-1"]
    memo.forget()
    assert memo.touched([first, second]).histories["INC-1"] == [first, second]
    memo.forget()
    assert memo.touched([third]).histories["INC-1"] == [first, second, third]
    assert asked == ["INC-1"]
    app.close()


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(datetime(1980, 1, 1), datetime(2040, 1, 1), timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=3)), timezone(timedelta(hours=-3, minutes=-30)), *ZONES]
    )),
    st.sampled_from(ZONES),
)  # fmt: skip
def test_the_month_kept_per_day_is_the_month_of_the_instant(instant: datetime, zone: ZoneInfo) -> None:
    local = instant.astimezone(zone)
    expected = f"{local.year:04d}-{local.month:02d}"
    assert month_of(instant, zone) == expected
    assert month_of(instant.isoformat(), zone) == expected


def test_months_around_every_month_start_and_clock_change() -> None:
    for zone in ZONES:
        for year in (1995, 2010, 2024):
            for month in range(1, 13):
                start = datetime(year, month, 1, tzinfo=zone).astimezone(UTC)
                for seconds in range(-7200, 7200, 599):
                    instant = start + timedelta(seconds=seconds)
                    local = instant.astimezone(zone)
                    assert month_of(instant, zone) == f"{local.year:04d}-{local.month:02d}"


_T0 = datetime(2025, 3, 3, 8, tzinfo=UTC)
_OFFICE = BusinessCalendar(
    "office", "Europe/Moscow",
    {day: ((datetime.min.time().replace(hour=9), datetime.min.time().replace(hour=18)),)
     for day in range(5)},
    "RU",
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 6000), st.integers(0, 3000), st.booleans()), max_size=4),
    st.integers(1, 8000),
    st.integers(0, 9000),
    st.booleans(),
)
def test_counted_and_paused_minutes_are_those_of_the_trace(
    pauses: list[tuple[int, int, bool]], length: int, asked: int, stopped: bool
) -> None:
    """Also for overlapping pauses, pauses still on, and moments before, inside and after."""
    end = _T0 + timedelta(minutes=length)
    spans = tuple(
        (_T0 + timedelta(minutes=start), None if open_ else _T0 + timedelta(minutes=start + size))
        for start, size, open_ in sorted(pauses)
    )
    row = ClockRow(
        "INC-1", "resolution", 1, "services", "phone", None, "normal", None, "customer_service",
        "office", _T0, end if stopped else None, 600.0, 0.0, 1, spans,
    )  # fmt: skip
    as_of = _T0 + timedelta(minutes=asked)
    status = status_as_of(row, _OFFICE, as_of, default_rules().at_risk)
    lines = trace(row, _OFFICE, as_of)

    def minutes(kind: str) -> float:
        total = sum((line.end - line.start for line in lines if line.kind == kind), timedelta())
        return total.total_seconds() / 60

    assert status is not None
    assert (status.elapsed_minutes, status.paused_minutes) == (minutes("counted"), minutes("paused"))


def test_the_shared_timeline_order_is_that_of_in_timeline_order(tmp_path: Path) -> None:
    app = open_app(tmp_path / "e.db")
    facts = [
        wire("received"), wire("paused", hours=1), wire("resumed", hours=1),
        wire("reclassified", hours=2, priority="high"), wire("resolved", hours=2),
    ]  # fmt: skip
    Ingest(app).process(messages_of(facts))
    history = app.histories(["INC-1"])["INC-1"]
    for events in (history, list(reversed(history))):
        ordered = ordered_incident(events)
        assert ordered.events == in_timeline_order(events)
        assert ordered.instants == [
            datetime.fromisoformat(e.occurred_at).astimezone(UTC) for e in ordered.events
        ]
    app.close()
