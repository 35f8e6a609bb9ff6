"""SLA clocks of DESIGN §4: which clocks an incident runs, and their status as of any moment."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.clocks import ClockRow, TraceLine, trace
from domain.fact import Primitive
from domain.incident import Incident
from domain.incident_clocks import compute_clocks
from tests.clock_kit import (
    FRIDAY,
    MONDAY,
    PHONE,
    RULES,
    STORE,
    V2,
    FakeRules,
    at,
    clocks_of,
    events_of,
    fact,
    known,
    on_monday,
    status,
    the,
)

# --- handover -------------------------------------------------------------------------------


@pytest.mark.parametrize(("received_at", "expected"), [((11, 0), "met"), ((12, 0), "breached")])
def test_a_store_incident_reported_on_friday_evening_is_due_on_saturday_morning(
    received_at: tuple[int, int], expected: str
) -> None:
    reported = at(FRIDAY, 20, 30)
    receipt = fact("received", at(FRIDAY + timedelta(1), *received_at), reported_at=reported)

    handover = the(clocks_of(receipt), "handover")
    result = known(handover, handover.started_at + timedelta(days=3))

    assert (handover.calendar, handover.party, handover.target_minutes) == (
        "store-014", "source_department", 180,
    )  # fmt: skip
    assert result.deadline == at(FRIDAY + timedelta(1), 11, 30)
    assert result.status == expected


def test_the_handover_trace_explains_the_closed_night() -> None:
    saturday = FRIDAY + timedelta(1)
    receipt = fact("received", at(saturday, 11), reported_at=at(FRIDAY, 20, 30))

    handover = the(clocks_of(receipt), "handover")
    lines = trace(handover, STORE, at(saturday, 18))

    assert [(line.start, line.end, line.kind) for line in lines] == [
        (at(FRIDAY, 20, 30), at(FRIDAY, 22), "counted"),
        (at(FRIDAY, 22), at(saturday, 10), "closed"),
        (at(saturday, 10), at(saturday, 11), "counted"),
    ]


@pytest.mark.parametrize(("minutes", "expected"), [(10, "met"), (15, "met"), (20, "breached")])
def test_a_phone_call_is_handed_over_immediately_within_its_grace(
    minutes: int, expected: str
) -> None:
    reported = at(MONDAY, 10)
    receipt = fact("received", reported + timedelta(minutes=minutes), reported_at=reported, **PHONE)

    handover = the(clocks_of(receipt), "handover")
    result = known(handover, at(MONDAY, 12))

    assert (handover.target_minutes, handover.grace_minutes) == (0, 15)
    assert result.elapsed_minutes == minutes
    assert result.status == expected


def test_without_a_report_time_the_handover_takes_no_time() -> None:
    handover = the(clocks_of(on_monday()), "handover")

    assert handover.started_at == handover.stopped_at == at(MONDAY, 9)
    assert known(handover, at(MONDAY, 9)).status == "met"


# --- escalation and completion report --------------------------------------------------------


@pytest.mark.parametrize(("hours", "expected"), [(23, "met"), (25, "breached")])
def test_tech_support_answers_within_24_hours_around_the_clock(hours: int, expected: str) -> None:
    escalated = at(FRIDAY, 17)
    answer = escalated + timedelta(hours=hours)
    facts = [fact("escalated", escalated), fact("resolved", answer)]

    response = the(clocks_of(on_monday(), *facts), "escalation_response")

    assert (response.calendar, response.party) == ("24/7", "tech_support")
    assert (response.started_at, response.stopped_at) == (escalated, answer)
    assert known(response, answer).status == expected


def test_each_escalation_runs_its_own_clock_until_the_next_resolution() -> None:
    facts = [
        fact("escalated", at(MONDAY, 10)),
        fact("resolved", at(MONDAY, 11)),
        fact("reopened", at(MONDAY, 12)),
        fact("escalated", at(MONDAY, 13), escalated_to="supplier"),
    ]

    rows = clocks_of(on_monday(), *facts)

    first, second = the(rows, "escalation_response", 1), the(rows, "escalation_response", 2)
    assert (first.stopped_at, first.party) == (at(MONDAY, 11), "tech_support")
    assert (second.stopped_at, second.party) == (None, "supplier")


def test_a_store_reports_completion_within_three_store_working_hours() -> None:
    saturday, monday = FRIDAY + timedelta(1), FRIDAY + timedelta(3)
    resolved = fact(
        "resolved", at(monday, 10, 30), completed_at=at(saturday, 21), root_cause="supplier_delay"
    )

    report = the(clocks_of(fact("received", at(FRIDAY, 12)), resolved), "completion_report")
    result = known(report, at(monday, 10, 30))

    assert (report.calendar, report.party, report.root_cause) == (
        "store-014", "store", "supplier_delay",
    )  # fmt: skip
    assert (result.elapsed_minutes, result.status) == (90, "met")


def test_a_resolution_without_a_completion_time_has_no_completion_report() -> None:
    rows = clocks_of(on_monday(), fact("resolved", at(MONDAY, 11)))

    assert [row.clock for row in rows] == ["handover", "resolution", "ownership"]


# --- resolution: pauses and reopens ----------------------------------------------------------


@pytest.mark.parametrize(
    ("paused", "resumed"),
    [(at(MONDAY, 10), at(MONDAY, 12)), (at(MONDAY, 17), at(MONDAY + timedelta(1), 10))],
    ids=["within_a_day", "over_a_night"],
)
def test_a_pause_moves_the_resolution_deadline_by_its_working_time(
    paused: datetime, resumed: datetime
) -> None:
    facts = [fact("paused", paused), fact("resumed", resumed)]

    resolution = the(clocks_of(on_monday(), *facts), "resolution")
    result = known(resolution, at(MONDAY, 9) + timedelta(days=1, hours=4))

    assert resolution.pauses == ((paused, resumed),)
    assert result.paused_minutes == 120
    assert result.deadline == at(MONDAY + timedelta(2), 11)  # Tuesday 18:00 without the pause


def test_a_resolution_while_paused_ends_the_pause_at_the_resolution() -> None:
    facts = [fact("paused", at(MONDAY, 10)), fact("resolved", at(MONDAY, 12))]

    resolution = the(clocks_of(on_monday(), *facts), "resolution")
    result = known(resolution, at(MONDAY, 15))

    assert resolution.pauses == ((at(MONDAY, 10), at(MONDAY, 12)),)
    assert (result.status, result.elapsed_minutes, result.paused_minutes) == ("met", 60, 120)


def test_a_reopen_starts_cycle_2_without_counting_the_time_it_was_resolved() -> None:
    tuesday = MONDAY + timedelta(1)
    facts = [
        fact("resolved", at(MONDAY, 11), root_cause="incomplete_documents"),
        fact("reopened", at(tuesday, 15)), fact("resolved", at(tuesday, 16)),
    ]  # fmt: skip

    rows = clocks_of(on_monday(), *facts)
    first, final = the(rows, "resolution", 1), the(rows, "resolution", 2)

    assert (first.started_at, first.stopped_at) == (at(MONDAY, 9), at(MONDAY, 11))
    assert first.root_cause == "incomplete_documents"
    assert (final.started_at, final.stopped_at, final.carried_minutes) == (
        at(tuesday, 15), at(tuesday, 16), 120,
    )  # fmt: skip
    assert known(first, at(tuesday, 16)).elapsed_minutes == 120
    assert known(final, at(tuesday, 16)).elapsed_minutes == 180
    # 1080 - 120 carried, from Tuesday 15:00: 180 on Tuesday, 540 on Wednesday, 240 on Thursday
    assert known(final, at(tuesday, 16)).deadline == at(MONDAY + timedelta(3), 13)
    assert status(final, at(tuesday, 14)) is None


# --- status as of any moment ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (at(MONDAY, 8), None),
        (at(MONDAY, 9), "running"),
        (at(MONDAY + timedelta(1), 12), "running"),  # 720 of 1080 counted
        (at(MONDAY + timedelta(1), 15), "at_risk"),  # 180 left, inside the last 20 % (216)
        (at(MONDAY + timedelta(2), 10), "running_breached"),
    ],
)
def test_an_unresolved_incident_runs_then_is_at_risk_then_breached(
    as_of: datetime, expected: str | None
) -> None:
    resolution = the(clocks_of(on_monday()), "resolution")

    result = status(resolution, as_of)

    assert (result.status if result else None) == expected


def test_in_the_middle_of_a_pause_the_clock_is_paused() -> None:
    facts = [fact("paused", at(MONDAY, 10)), fact("resumed", at(MONDAY, 14))]
    resolution = the(clocks_of(on_monday(), *facts), "resolution")

    result = known(resolution, at(MONDAY, 12))

    assert (result.status, result.elapsed_minutes, result.paused_minutes) == ("paused", 60, 120)
    assert result.deadline == at(MONDAY + timedelta(2), 11)  # moved by the 120 paused so far


def test_a_clock_stopped_after_the_moment_asked_about_was_still_running_then() -> None:
    resolution = the(clocks_of(on_monday(), fact("resolved", at(MONDAY, 15))), "resolution")

    result = known(resolution, at(MONDAY, 11))

    assert (result.status, result.elapsed_minutes, result.remaining_minutes) == (
        "running", 120, 960,
    )  # fmt: skip


# --- policies ---------------------------------------------------------------------------------


def test_each_clock_keeps_the_policy_in_force_when_it_started_unless_one_is_chosen() -> None:
    rules = FakeRules(policies=(*RULES.policies, (at(MONDAY + timedelta(1), 0), V2)))
    events = events_of(on_monday(), fact("escalated", at(MONDAY + timedelta(1), 10)))

    as_then = {row.clock: row.policy_version for row in compute_clocks(events, rules)}
    as_now = compute_clocks(events, rules, policy_version=rules.current.version)

    assert as_then == {"handover": 1, "escalation_response": 2, "resolution": 1, "ownership": 1}
    assert {row.policy_version for row in as_now} == {2}
    assert the(as_now, "resolution").target_minutes == 9 * 60


# --- streams without clocks ------------------------------------------------------------------


def test_a_standalone_thanks_runs_no_clocks() -> None:
    thanks = fact("thanked", at(MONDAY, 10), standalone=True)

    assert compute_clocks(events_of(thanks), RULES) == []


def test_a_stream_without_its_receipt_runs_no_clocks() -> None:
    events = events_of(on_monday(), fact("escalated", at(MONDAY, 10)))

    assert compute_clocks(events[1:], RULES) == []


# --- properties ------------------------------------------------------------------------------

_LATER = (
    "escalated", "resolved", "reopened", "paused", "resumed", "rated", "thanked", "reassigned",
    "reclassified", "closed",
)  # fmt: skip
steps = st.lists(
    st.tuples(
        st.sampled_from(_LATER), st.sampled_from((0, 0, 5, 45, 240, 900, 1600)), st.booleans()
    ),
    max_size=10,
)
starts = st.integers(0, 7 * 24 * 60).map(lambda minutes: at(MONDAY, 0) + timedelta(minutes=minutes))


def random_incident(
    start: datetime, steps: list[tuple[str, int, bool]], phone: bool
) -> list[Incident.Event]:
    """An incident received at ``start`` with whichever of ``steps`` its lifecycle admits."""
    details = PHONE if phone else {}
    incident = Incident.begin(
        fact("received", start, reported_at=start - timedelta(hours=5), **details)
    )
    moment = start
    for kind, minutes, flag in steps:
        moment += timedelta(minutes=minutes)
        extra: dict[str, Primitive] = {}
        if kind == "resolved" and flag:
            extra["completed_at"] = moment - timedelta(minutes=90)
        if kind == "reassigned":
            extra["department"] = "tech_support" if flag else "night_desk"
        if kind == "reclassified":
            extra["priority"] = "high" if flag else "low"
        incident.record([fact(kind, moment, **extra)])
    return [e for e in incident.collect_events() if isinstance(e, Incident.Event)]


@settings(max_examples=150, deadline=None)
@given(starts, steps, st.booleans(), st.randoms(use_true_random=False))
def test_the_clocks_do_not_depend_on_the_order_the_events_are_given_in(
    start: datetime, steps: list[tuple[str, int, bool]], phone: bool, random: Random
) -> None:
    events = random_incident(start, steps, phone)
    shuffled = random.sample(events, len(events))

    assert compute_clocks(shuffled, RULES) == compute_clocks(events, RULES)


@settings(max_examples=150, deadline=None)
@given(starts, steps, st.booleans(), st.integers(-120, 8 * 24 * 60))
def test_a_trace_covers_the_clock_without_gaps_and_adds_up_to_its_status(
    start: datetime, steps: list[tuple[str, int, bool]], phone: bool, minutes: int
) -> None:
    rows = compute_clocks(random_incident(start, steps, phone), RULES)

    for row in rows:
        as_of = row.started_at + timedelta(minutes=minutes)
        lines, result = trace(row, RULES.calendar(row.calendar), as_of), status(row, as_of)

        end = min(as_of, row.stopped_at or as_of)
        if result is None or end == row.started_at:
            assert lines == []
            continue
        assert (lines[0].start, lines[-1].end) == (row.started_at, end)
        assert all(a.end == b.start and a.kind != b.kind for a, b in pairwise(lines))
        counted = sum(minutes_of(line) for line in lines if line.kind == "counted")
        paused = sum(minutes_of(line) for line in lines if line.kind == "paused")
        assert counted + row.carried_minutes == pytest.approx(result.elapsed_minutes)
        assert paused == pytest.approx(result.paused_minutes)
        target, grace = row.target_at(end)  # the target in force then
        assert result.target_minutes == target
        assert result.remaining_minutes == pytest.approx(target + grace - result.elapsed_minutes)


def minutes_of(line: TraceLine) -> float:
    return (line.end - line.start).total_seconds() / 60


@settings(max_examples=100, deadline=None)
@given(starts, steps, st.booleans(), st.integers(0, 8 * 24 * 60))
def test_a_reclassification_changes_targets_never_the_minutes_counted(
    start: datetime, steps: list[tuple[str, int, bool]], phone: bool, minutes: int
) -> None:
    events = random_incident(start, steps, phone)
    plain = [e for e in events if not isinstance(e, Incident.Reclassified)]

    changed, unchanged = compute_clocks(events, RULES), compute_clocks(plain, RULES)

    def shape(row: ClockRow) -> tuple[object, ...]:
        return (row.clock, row.cycle, row.party, row.started_at, row.stopped_at, row.pauses)

    assert [shape(r) for r in changed] == [shape(r) for r in unchanged]
    as_of = start + timedelta(minutes=minutes)
    for a, b in zip(changed, unchanged, strict=True):
        counted_a, counted_b = status(a, as_of), status(b, as_of)
        assert (counted_a is None) == (counted_b is None)
        if counted_a is not None and counted_b is not None:
            assert counted_a.elapsed_minutes == pytest.approx(counted_b.elapsed_minutes)
            assert counted_a.paused_minutes == pytest.approx(counted_b.paused_minutes)
