"""The SLA read model and its reports, checked against an independent minute-by-minute count."""

from __future__ import annotations

import io
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from consumers.ingest import Ingest
from domain.application import Incidents
from domain.sla_rules import PolicyRule, PolicyVersion, SlaRules, default_rules
from producers.simulator import SimulationSpec, simulate
from projections import root_causes, sla_queries
from projections.queries import Period
from projections.read_side import ReadSide
from projections.runner import ProjectionRunner
from projections.sla_clocks import COLUMNS, SlaClocks
from projections.sla_queries import ClockFilter, EvaluatedClock
from projections.store_reader import DatastoreReader
from tests.lifecycle_traffic import with_real_lifecycles
from tests.sla_oracle import MOSCOW, clocks_of
from tests.unit.test_ingest import T0, Event, messages_of, open_app, wire
from ticketstream import sla_explain, sla_reports

RULES = default_rules()
LATER = datetime(2026, 1, 1, tzinfo=UTC)
EVERY_MONTH = Period("0000-01", "9999-12")


@cache
def quarter() -> tuple[Event, ...]:
    """A simulated quarter with real lifecycles (reassignments, priority changes, closures),
    in event-time order."""
    events = simulate(SimulationSpec(months=3, seed=5, incidents_per_month=60))
    return tuple(with_real_lifecycles(events, seed=5))


def projected(path: Path, events: Sequence[Event], batch_size: int = 10_000) -> ProjectionRunner:
    """An SQLite store holding ``events`` (in the order given) with the SLA read model caught up."""
    app = open_app(path)
    Ingest(app).process(messages_of(events))
    runner = sla_runner(app, batch_size)
    runner.catch_up()
    return runner


def sla_runner(app: Incidents, batch_size: int = 10_000, rules: SlaRules = RULES) -> ProjectionRunner:
    return ProjectionRunner(app, [SlaClocks(rules, app.histories, MOSCOW)], batch_size=batch_size)


def side_of(runner: ProjectionRunner, rules: SlaRules = RULES) -> ReadSide:
    """The reports over the runner's store, in its zone, under these rules."""
    return ReadSide(DatastoreReader(runner.app), MOSCOW, rules)


def clocks_as_of(
    runner: ProjectionRunner, as_of: datetime, rules: SlaRules = RULES, policy: str = "started"
) -> list[EvaluatedClock]:
    with runner.transaction(commit=False) as c:
        stored = sla_queries.stored_clocks(c, ClockFilter(EVERY_MONTH))
    return sla_queries.evaluate(stored, rules, as_of, policy)  # type: ignore[arg-type]


def table_rows(runner: ProjectionRunner) -> list[tuple[object, ...]]:
    with runner.transaction(commit=False) as c:
        c.execute(f"SELECT {', '.join(COLUMNS)} FROM sla_clocks ORDER BY incident_id, clock, cycle")
        return c.fetchall()


@pytest.fixture(scope="module")
def quarter_runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProjectionRunner]:
    runner = projected(tmp_path_factory.mktemp("sla") / "e.db", quarter(), batch_size=500)
    yield runner
    runner.app.close()


# --- against the independent count -------------------------------------------------------------


def test_the_summary_equals_an_independent_minute_by_minute_count(
    quarter_runner: ProjectionRunner,
) -> None:
    expected: Counter[tuple[str, str, str]] = Counter()
    for clock in clocks_of(quarter()):
        expected[clock.department, clock.clock, "breached" if clock.breached else "met"] += 1

    summary = sla_queries.summary(clocks_as_of(quarter_runner, LATER))

    actual: Counter[tuple[str, str, str]] = Counter()
    for row in summary:
        if row["department"] != "(all)":
            for status in ("met", "breached"):
                actual[row["department"], row["clock"], status] += row[status]
    assert +actual == +expected
    assert {row["clock"] for row in summary} == {
        "handover", "escalation_response", "completion_report", "resolution", "ownership",
    }


def test_every_listed_clock_has_the_elapsed_working_minutes_counted_independently(
    quarter_runner: ProjectionRunner,
) -> None:
    expected = {(c.incident_id, c.clock, c.cycle): c.elapsed for c in clocks_of(quarter())}
    zones = {name: MOSCOW for name in RULES.calendars}

    listed = sla_queries.listing(clocks_as_of(quarter_runner, LATER), zones)

    finished = {
        (r["incident_id"], r["clock"], r["cycle"]): r["elapsed_minutes"]
        for r in listed if r["status"] in ("met", "breached")
        and (r["clock"] != "resolution" or (r["incident_id"], "resolution", r["cycle"]) in expected)
    }  # fmt: skip
    assert finished == pytest.approx(expected)


def test_listed_rows_have_the_documented_fields_and_rfc3339_times(
    quarter_runner: ProjectionRunner,
) -> None:
    zones = {name: MOSCOW for name in RULES.calendars}
    row = sla_queries.listing(clocks_as_of(quarter_runner, LATER), zones)[0]

    assert list(row) == [
        "incident_id", "clock", "cycle", "department", "started_at", "deadline", "stopped_at",
        "target_minutes", "elapsed_minutes", "paused_minutes", "status", "policy_version",
    ]  # fmt: skip
    for name in ("started_at", "deadline", "stopped_at"):
        assert datetime.fromisoformat(row[name]).utcoffset() == timedelta(hours=3)


def test_root_causes_rank_the_breached_resolutions_with_a_pareto(
    quarter_runner: ProjectionRunner,
) -> None:
    finals = [c for c in clocks_of(quarter()) if c.clock == "resolution"]

    rows = root_causes.root_causes(clocks_as_of(quarter_runner, LATER))

    assert sum(r["breached"] for r in rows) == sum(c.breached for c in finals)
    assert sum(r["resolved"] for r in rows) == len(finals)
    assert [r["breached"] for r in rows] == sorted((r["breached"] for r in rows), reverse=True)
    assert rows[-1]["cumulative_share"] == pytest.approx(1.0)
    assert sum(r["share"] for r in rows) == pytest.approx(1.0, abs=1e-3)


def test_rebuilding_in_batches_of_any_size_gives_the_same_rows(
    quarter_runner: ProjectionRunner, tmp_path: Path
) -> None:
    again = projected(tmp_path / "again.db", quarter(), batch_size=10_000)

    assert table_rows(again) == table_rows(quarter_runner)
    again.rebuild("sla_clocks")
    assert table_rows(again) == table_rows(quarter_runner)


# --- order of arrival --------------------------------------------------------------------------


def _arrival(events: Sequence[Event], rng: random.Random) -> list[Event]:
    """The events interleaved across topics at random, each topic's order kept per incident."""
    queues: dict[str, list[Event]] = {}
    for event in events:
        queues.setdefault(str(event["type"]), []).append(event)
    order = [t for t, queue in queues.items() for _ in queue]
    rng.shuffle(order)
    return [queues[t].pop(0) for t in order]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.randoms(use_true_random=False))
def test_any_order_of_arrival_across_topics_gives_identical_sla_rows(
    tmp_path_factory: pytest.TempPathFactory, rng: random.Random
) -> None:
    events = [e for e in quarter() if str(e["occurred_at"]) < "2025-02-01"]
    in_order = projected(tmp_path_factory.mktemp("in_order") / "e.db", events)
    shuffled = projected(tmp_path_factory.mktemp("shuffled") / "e.db", _arrival(events, rng), 97)

    assert table_rows(shuffled) == table_rows(in_order)


# --- as of a moment, policies, at risk, explanations --------------------------------------------


def _story(tmp_path: Path, *extra: Event) -> ProjectionRunner:
    """INC-1: a retail-store email received Monday 3 March 2025 12:00 Moscow, paused 14:00 until
    Tuesday 10:00, escalated to tech support Monday 15:00, resolved Wednesday 12:00, reopened
    Thursday 12:00 and resolved again Thursday 15:00 (Customer Service works 9:00-18:00)."""
    events = [
        wire("received", reported_at=(T0 - timedelta(hours=1)).isoformat()),
        wire("paused", hours=2, reason="waiting_for_customer"),
        wire("escalated", hours=3),
        wire("resumed", hours=22),
        wire("resolved", hours=48),
        wire("reopened", hours=72, reason="customer_disagrees"),
        wire("resolved", hours=75, root_cause="supplier_delay"),
        *extra,
    ]
    return projected(tmp_path / "e.db", events)


def _resolution(clocks: list[EvaluatedClock]) -> list[tuple[int, str, float]]:
    return [
        (c.row.cycle, c.status.status, c.status.elapsed_minutes)
        for c in clocks if c.row.clock == "resolution"
    ]  # fmt: skip


def _with_policy_2(target: float) -> SlaRules:
    stricter = PolicyVersion(
        2, datetime(2026, 1, 1, tzinfo=UTC),
        (*RULES.policies[0].rules, PolicyRule("resolution", target)),
    )  # fmt: skip
    return SlaRules(
        RULES.calendars, RULES.department_calendars, RULES.store_calendars,
        RULES.customer_service_calendar, [*RULES.policies, stricter],
    )  # fmt: skip


def test_a_report_as_of_a_moment_sees_the_clocks_as_they_stood_then(tmp_path: Path) -> None:
    runner = _story(tmp_path)

    during_pause = clocks_as_of(runner, T0 + timedelta(hours=5))
    before_resolution = clocks_as_of(runner, T0 + timedelta(hours=47))
    after_reopen = clocks_as_of(runner, T0 + timedelta(hours=73))
    finally_ = clocks_as_of(runner, LATER)

    assert _resolution(during_pause) == [(1, "paused", 120.0)]
    # Monday 12:00-14:00, Tuesday 10:00-18:00 (the pause ended at 10:00), Wednesday 9:00-11:00.
    assert _resolution(before_resolution) == [(1, "running", 720.0)]
    assert _resolution(after_reopen) == [(1, "met", 780.0), (2, "running", 840.0)]
    assert _resolution(finally_) == [(1, "met", 780.0), (2, "met", 960.0)]
    resolution = [r for r in sla_queries.summary(finally_) if r["clock"] == "resolution"]
    # retail_store's row, and the "(all)" row (Customer Service holds the ownership stretch).
    assert [(r["department"], r["reopened"]) for r in resolution] == [("retail_store", 1), ("(all)", 1)]


def test_the_policy_a_clock_started_under_stays_unless_today_s_is_asked_for(tmp_path: Path) -> None:
    rules = _with_policy_2(900)
    runner = _story(tmp_path)

    as_started = clocks_as_of(runner, LATER, rules)
    under_current = clocks_as_of(runner, LATER, rules, policy="current")

    assert _resolution(as_started)[-1][1] == "met"
    assert {c.row.policy_version for c in as_started} == {1}
    assert _resolution(under_current)[-1][1] == "breached"
    assert {c.row.policy_version for c in under_current} == {2}


def test_at_risk_lists_open_clocks_near_or_past_their_deadline_with_when_they_are_due(
    tmp_path: Path,
) -> None:
    runner = _story(tmp_path)
    # Thursday 14:00 local: 900 of 1080 minutes used, 180 left ≤ 20 % of 1080.
    as_of = T0 + timedelta(hours=74)

    answer = side_of(runner).at_risk(sla_reports.SlaQuestion(ClockFilter(EVERY_MONTH), as_of))
    rows, title = answer.rows, answer.title

    assert [(r["clock"], r["cycle"], r["status"], r["minutes_left"]) for r in rows] == [
        ("resolution", 2, "at_risk", 180.0)
    ]
    assert rows[0]["due"] == "breaches today 17:00"
    assert "as of" in title


def test_a_closed_calendar_says_when_it_opens(tmp_path: Path) -> None:
    # INC-2, critical (540 minutes), received Tuesday 10:00 local: 480 used by 18:00.
    runner = _story(tmp_path, wire("received", "INC-2", hours=22, priority="critical"))
    as_of = T0 + timedelta(hours=44)  # Wednesday 8:00 local, Customer Service closed

    rows = side_of(runner).at_risk(sla_reports.SlaQuestion(ClockFilter(EVERY_MONTH), as_of)).rows

    assert [(r["incident_id"], r["clock"], r["minutes_left"], r["minutes_overdue"]) for r in rows] == [
        ("INC-1", "escalation_response", 0.0, 1020.0),  # tech support, 24/7 since Monday 15:00
        ("INC-2", "resolution", 60.0, 0.0),
    ]
    assert rows[0]["due"] == "overdue since yesterday 15:00"
    assert rows[1]["due"] == "breaches today 10:00 (customer_service closed until today 09:00)"


def test_explain_traces_every_clock_and_attributes_a_breach_to_who_held_the_ball(
    tmp_path: Path,
) -> None:
    runner = _story(tmp_path)
    console = Console(file=io.StringIO(), width=200)

    sla_explain.print_explanation(side_of(runner, _with_policy_2(900)), "INC-1", LATER, "current", console)

    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "handover (cycle 1)" in text and "resolution (cycle 2)" in text
    assert "paused (waiting on the customer" in text
    assert "outside working hours" in text
    assert "status breached: 960 (incl. 780 from earlier cycles) of 900 working minutes" in text
    parties = dict(line.split()[1:4:2] for line in text.splitlines() if line.startswith("│ ") and line.split()[1] in ("tech_support", "retail_store", "customer_service", "paused"))
    # Outside the escalation the source department held the incident (its ownership stretch).
    assert parties == {"tech_support": "660", "customer_service": "300", "paused": "300"}
