"""Read models and report queries over an ingested simulation, checked against its events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from consumers.ingest import Ingest
from domain.application import Incidents
from producers.simulator import SimulationSpec, simulate
from projections import queries
from projections.channel_mix import ChannelMix
from projections.dynamics import Dynamics
from projections.errors import ProjectionError, QueryError
from projections.month import month_of
from projections.runner import ProjectionRunner
from projections.thanks_share import ThanksShare
from tests.unit.test_ingest import Event, messages_of, open_app, wire

MOSCOW = ZoneInfo("Europe/Moscow")
NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
RECEIVED, THANKED = "incident.received", "incident.thanked"
Reports = tuple[list[queries.Row], list[queries.Row], list[queries.Row]]


@cache
def month_events() -> tuple[Event, ...]:
    """Two simulated months (January and February 2025, Moscow) plus hand-made edge cases.

    Thanks about an incident carry no department, so they count for their incident's;
    one standalone thanks has none at all; one receipt is January in UTC but February in
    Moscow.
    """
    simulated = [
        {k: v for k, v in e.items() if k != "department" or not _about_an_incident(e)}
        for e in simulate(SimulationSpec(months=2, seed=11, incidents_per_month=40))
    ]
    january_incident = next(str(e["incident_id"]) for e in simulated if e["type"] == RECEIVED)
    extras = [
        wire("thanked", january_incident, channel="social",
             occurred_at="2025-02-10T10:00:00+03:00"),
        wire("thanked", "THX-NO-DEPT", channel="web_form", standalone=True,
             occurred_at="2025-01-15T12:00:00+03:00"),
        wire("received", "INC-MIDNIGHT", department="services", channel="chat",
             occurred_at="2025-01-31T23:30:00+00:00"),
    ]  # fmt: skip
    events = sorted(
        [*simulated, *extras], key=lambda e: datetime.fromisoformat(str(e["occurred_at"]))
    )
    return tuple(events)


def _about_an_incident(event: Event) -> bool:
    return event["type"] == THANKED and not event.get("standalone")


def local_month(event: Event) -> str:
    return datetime.fromisoformat(str(event["occurred_at"])).astimezone(MOSCOW).strftime("%Y-%m")


def expected_contacts(events: Sequence[Event]) -> Counter[tuple[str, str, str]]:
    """(month, channel, department) → contacts, computed straight from the wire events."""
    departments = {e["incident_id"]: e["department"] for e in events if e["type"] == RECEIVED}
    contacts: Counter[tuple[str, str, str]] = Counter()
    for e in events:
        if e["type"] in (RECEIVED, THANKED):
            department = e.get("department") or departments.get(e["incident_id"], "unknown")
            contacts[local_month(e), str(e["channel"]), str(department)] += 1
    return contacts


def expected_received(events: Sequence[Event]) -> Counter[tuple[str, str]]:
    """(month, department) → incidents received."""
    return Counter((local_month(e), str(e["department"])) for e in events if e["type"] == RECEIVED)


def ingested(path: Path, events: Sequence[Event]) -> Incidents:
    """An SQLite event store holding every one of ``events``."""
    app = open_app(path)
    result = Ingest(app).process(messages_of(events))
    assert (result.applied, result.dead_lettered, result.parked) == (len(events), 0, 0)
    return app


def runner_of(app: Incidents, batch_size: int = 10_000) -> ProjectionRunner:
    return ProjectionRunner(
        app, [ChannelMix(MOSCOW, app.histories), Dynamics(MOSCOW), ThanksShare(MOSCOW)],
        batch_size=batch_size,
    )


def reports(
    runner: ProjectionRunner, period: queries.Period, department: str | None = None
) -> Reports:
    """Channel, dynamics and thanks rows of ``period``, as the CLI reads them."""
    with runner.transaction(commit=False) as c:
        return (
            queries.channel_rows(c, period, department),
            queries.dynamics_rows(c, period, department),
            queries.thanks_rows(c, period, department),
        )


def whole() -> queries.Period:
    return queries.Period.of("2025-01", "2025-02", NOW, MOSCOW)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Incidents]:
    application = ingested(tmp_path / "e.db", month_events())
    yield application
    application.close()


@pytest.fixture
def runner(app: Incidents) -> ProjectionRunner:
    projection = runner_of(app, batch_size=7)
    projection.catch_up()
    return projection


# --- the read models against the events -----------------------------------------------------


def test_channel_mix_counts_every_contact_by_its_local_month_and_channel(
    runner: ProjectionRunner,
) -> None:
    contacts: Counter[tuple[str, str]] = Counter()
    for (month, channel, _), n in expected_contacts(month_events()).items():
        contacts[month, channel] += n
    totals: Counter[str] = Counter()
    for (month, _), n in contacts.items():
        totals[month] += n

    rows, _, _ = reports(runner, whole())

    assert rows == [
        {"month": m, "channel": ch, "contacts": n, "share": n / totals[m]}
        for (m, ch), n in sorted(contacts.items())
    ]


def test_a_thanks_without_department_counts_for_the_department_of_its_incident(
    runner: ProjectionRunner,
) -> None:
    events = month_events()
    assert sum(_about_an_incident(e) and "department" not in e for e in events) > 1
    expected = expected_contacts(events)
    departments = sorted({d for _, _, d in expected})

    by_department = {d: reports(runner, whole(), d)[0] for d in departments}

    for department, rows in by_department.items():
        assert {(r["month"], r["channel"]): r["contacts"] for r in rows} == {
            (m, ch): n for (m, ch, d), n in expected.items() if d == department
        }


def test_a_standalone_thanks_without_department_counts_for_an_unknown_department(
    runner: ProjectionRunner,
) -> None:
    period = queries.Period.of("2025-01", "2025-01", NOW, MOSCOW)

    channels, incidents, thanks = reports(runner, period, "unknown")

    assert channels == [{"month": "2025-01", "channel": "web_form", "contacts": 1, "share": 1.0}]
    assert incidents == []
    assert thanks == [{"month": "2025-01", "contacts": 1, "thanks": 1, "share": 1.0}]


def test_a_contact_whose_channel_is_corrected_counts_under_the_corrected_channel(
    tmp_path: Path,
) -> None:
    app = open_app(tmp_path / "e.db")
    runner = runner_of(app, batch_size=1)
    events = [
        wire("received", "INC-C", channel="email", department="call_centre",
             occurred_at="2025-02-03T10:00:00+03:00"),
        wire("reclassified", "INC-C", channel="chat", occurred_at="2025-02-05T10:00:00+03:00"),
    ]  # fmt: skip
    Ingest(app).process(messages_of(events))
    runner.catch_up()
    # An earlier correction arrives late: the later one still decides.
    late = wire("reclassified", "INC-C", channel="phone", occurred_at="2025-02-04T10:00:00+03:00")
    Ingest(app).process(messages_of([late], partition=1))

    runner.catch_up()

    channels, _, _ = reports(runner, whole(), "call_centre")
    assert [(r["month"], r["channel"], r["contacts"]) for r in channels] == [("2025-02", "chat", 1)]
    runner.rebuild("channel_mix")
    assert reports(runner, whole(), "call_centre")[0] == channels
    app.close()


def test_dynamics_counts_the_incidents_received_per_local_month(runner: ProjectionRunner) -> None:
    received = expected_received(month_events())
    per_month: Counter[str] = Counter()
    for (month, _), n in received.items():
        per_month[month] += n

    _, rows, _ = reports(runner, whole())
    _, services, _ = reports(runner, whole(), "services")

    assert rows == [{"month": m, "incidents": n} for m, n in sorted(per_month.items())]
    assert services == [
        {"month": m, "incidents": n} for (m, d), n in sorted(received.items()) if d == "services"
    ]


def test_a_receipt_just_before_midnight_utc_on_the_last_day_counts_for_the_next_local_month(
    runner: ProjectionRunner,
) -> None:
    events = [e for e in month_events() if e["incident_id"] != "INC-MIDNIGHT"]
    february = expected_received(events)

    _, rows, _ = reports(runner, queries.Period.of("2025-02", "2025-02", NOW, MOSCOW), "services")

    assert rows == [{"month": "2025-02", "incidents": february["2025-02", "services"] + 1}]


def test_the_share_of_thanks_is_thanks_among_all_contacts_per_month(
    runner: ProjectionRunner,
) -> None:
    events = month_events()
    contacts = Counter(local_month(e) for e in events if e["type"] in (RECEIVED, THANKED))
    thanked = Counter(local_month(e) for e in events if e["type"] == THANKED)

    _, _, rows = reports(runner, whole())

    assert rows == [
        {"month": m, "contacts": n, "thanks": thanked[m], "share": thanked[m] / n}
        for m, n in sorted(contacts.items())
    ]
    assert all(row["thanks"] > 0 for row in rows)


def test_the_share_of_thanks_of_one_department_counts_thanks_attributed_to_it(
    runner: ProjectionRunner,
) -> None:
    expected = expected_contacts(month_events())
    received = expected_received(month_events())
    department = "retail_store"
    contacts: Counter[str] = Counter()
    for (month, _, d), n in expected.items():
        if d == department:
            contacts[month] += n

    _, _, rows = reports(runner, whole(), department)

    assert rows == [
        {
            "month": m,
            "contacts": n,
            "thanks": n - received[m, department],
            "share": (n - received[m, department]) / n,
        }
        for m, n in sorted(contacts.items())
    ]


def test_a_period_selects_only_its_months(runner: ProjectionRunner) -> None:
    february = queries.Period.of("2025-02", "2025-02", NOW, MOSCOW)

    channels, incidents, thanks = reports(runner, february)

    assert {r["month"] for r in [*channels, *incidents, *thanks]} == {"2025-02"}
    assert reports(runner, queries.Period.of("2024-01", "2024-12", NOW, MOSCOW)) == ([], [], [])


# --- catch-up, rebuild and status -----------------------------------------------------------


def test_catching_up_in_small_batches_gives_the_same_rows_as_one_big_batch(
    tmp_path: Path, runner: ProjectionRunner
) -> None:
    other = ingested(tmp_path / "other.db", month_events())
    big = runner_of(other, batch_size=10_000)

    big.catch_up()

    assert reports(big, whole()) == reports(runner, whole())
    for department in ("retail_store", "call_centre", "unknown"):
        assert reports(big, whole(), department) == reports(runner, whole(), department)
    other.close()


def test_catching_up_after_every_ingested_batch_gives_the_same_rows_as_catching_up_once(
    tmp_path: Path, runner: ProjectionRunner
) -> None:
    events = month_events()
    other = open_app(tmp_path / "other.db")
    ingest, step = Ingest(other), runner_of(other, batch_size=7)
    messages = messages_of(events)

    for start in range(0, len(messages), 50):
        ingest.process(messages[start : start + 50])
        step.catch_up()

    assert reports(step, whole()) == reports(runner, whole())
    other.close()


def test_catching_up_again_reads_nothing_and_changes_nothing(runner: ProjectionRunner) -> None:
    before = reports(runner, whole())

    read = runner.catch_up()

    assert read == 0
    assert reports(runner, whole()) == before


def test_rebuilding_a_read_model_gives_the_same_rows(runner: ProjectionRunner) -> None:
    before = reports(runner, whole())
    with runner.transaction(commit=True) as c:  # wrong rows that only a recomputation fixes
        for table in runner.read_models["channel_mix"].tables:
            c.execute(f"DELETE FROM {table}")

    runner.rebuild("channel_mix")

    assert reports(runner, whole()) == before


def test_rebuilding_every_read_model_recomputes_them_all_in_one_pass(
    app: Incidents, runner: ProjectionRunner
) -> None:
    before = reports(runner, whole())
    topics = sorted({t for m in runner.read_models.values() for t in m.topics})
    relevant = len(app.recorder.select_notifications(start=1, limit=10**6, topics=topics))
    with runner.transaction(commit=True) as c:  # wrong rows that only a recomputation fixes
        for model in runner.read_models.values():
            for table in model.tables:
                c.execute(f"DELETE FROM {table}")

    read = runner.rebuild()

    assert read == relevant  # the store read once, not once per read model
    assert reports(runner, whole()) == before
    assert all(s.lag == 0 for s in runner.status())


def test_rebuilding_an_unknown_read_model_among_others_empties_nothing(
    runner: ProjectionRunner,
) -> None:
    before = reports(runner, whole())

    with pytest.raises(ProjectionError, match="'nope'"):
        runner.rebuild("channel_mix", "nope")

    assert reports(runner, whole()) == before
    assert runner.catch_up() == 0


def test_rebuilding_an_unknown_read_model_is_refused(runner: ProjectionRunner) -> None:
    with pytest.raises(ProjectionError, match="sla"):
        runner.rebuild("sla")


def test_the_lag_is_zero_after_catching_up_and_counts_events_ingested_since(
    app: Incidents, runner: ProjectionRunner
) -> None:
    assert {s.name: s.lag for s in runner.status()} == {
        "channel_mix": 0, "dynamics": 0, "thanks_share": 0,
    }  # fmt: skip
    more = [wire("received", "INC-LATE"), wire("resolved", "INC-LATE", hours=1)]

    Ingest(app).process(messages_of(more, partition=1))

    assert {s.name: s.lag for s in runner.status()} == {
        "channel_mix": 2, "dynamics": 2, "thanks_share": 2,
    }  # fmt: skip
    runner.catch_up()
    assert all(s.lag == 0 for s in runner.status())


def test_rebuilding_one_read_model_while_the_others_lag_behind_leaves_them_all_correct(
    tmp_path: Path,
) -> None:
    events = month_events()
    half = len(events) // 2
    app = ingested(tmp_path / "e.db", events[:half])
    runner = runner_of(app, batch_size=7)
    runner.catch_up()
    Ingest(app).process(messages_of(events)[half:])

    runner.rebuild("channel_mix")

    reference = ingested(tmp_path / "reference.db", events)
    fresh = runner_of(reference)
    fresh.catch_up()
    assert reports(runner, whole()) == reports(fresh, whole())
    app.close()
    reference.close()


# --- periods and months ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last"),
    [("2025-13", "2025-12"), ("25-01", "2025-02"), ("2025-01", "2025-1"), ("2025-03", "2025-02")],
    ids=["month_13", "two_digit_year", "one_digit_month", "ends_before_it_begins"],
)
def test_a_period_that_makes_no_sense_is_refused(first: str, last: str) -> None:
    with pytest.raises(QueryError):
        queries.Period.of(first, last, NOW, MOSCOW)


def test_a_period_without_bounds_runs_from_the_beginning_to_the_month_of_now_in_the_zone() -> None:
    now = datetime(2025, 1, 31, 23, 30, tzinfo=UTC)

    in_moscow = queries.Period.of(None, None, now, MOSCOW)
    in_utc = queries.Period.of(None, None, now, ZoneInfo("UTC"))

    assert (in_moscow.first, in_moscow.last) == ("0000-01", "2025-02")
    assert in_utc.last == "2025-01"


@pytest.mark.parametrize(
    ("zone", "month"),
    [("Europe/Moscow", "2025-02"), ("UTC", "2025-01"), ("America/New_York", "2025-01")],
)
def test_the_month_of_an_instant_is_the_month_on_the_local_calendar(zone: str, month: str) -> None:
    instant = datetime(2025, 1, 31, 23, 30, tzinfo=UTC)

    local = month_of(instant, ZoneInfo(zone))

    assert local == month
