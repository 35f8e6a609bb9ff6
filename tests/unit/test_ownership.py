"""The ownership clock (the OLA chain): one clock per stretch a group holds an incident."""

from __future__ import annotations

from datetime import timedelta

from domain.attribution import attribution
from domain.clocks import ClockRow
from tests.clock_kit import FRIDAY, MONDAY, PHONE, RULES, at, clocks_of, fact, known, on_monday

TUESDAY = MONDAY + timedelta(1)


def stretches(rows: list[ClockRow]) -> list[ClockRow]:
    return [row for row in rows if row.clock == "ownership"]


def chain(rows: list[ClockRow]) -> list[tuple[int, str, object, object]]:
    """(stretch, holder, from, to) of every stretch."""
    return [(r.cycle, r.party, r.started_at, r.stopped_at) for r in stretches(rows)]


def test_each_group_holding_the_incident_runs_a_stretch_from_receipt_to_resolution() -> None:
    facts = [
        fact("reassigned", at(MONDAY, 11), department="tech_support"),
        fact("reassigned", at(MONDAY, 16), department="call_centre"),
        fact("resolved", at(TUESDAY, 10)),
    ]

    rows = clocks_of(on_monday(), *facts)

    assert chain(rows) == [
        (1, "customer_service", at(MONDAY, 9), at(MONDAY, 11)),  # CS received it
        (2, "tech_support", at(MONDAY, 11), at(MONDAY, 16)),
        (3, "call_centre", at(MONDAY, 16), at(TUESDAY, 10)),
    ]
    outcomes = [
        (r.department, r.calendar, r.target_minutes, known(r, at(TUESDAY, 12)).elapsed_minutes,
         known(r, at(TUESDAY, 12)).status)
        for r in stretches(rows)
    ]  # fmt: skip
    assert outcomes == [
        ("customer_service", "customer-service", 1080, 120, "met"),  # CS works from 9:00
        ("tech_support", "customer-service", 240, 300, "breached"),  # its own 4-hour target
        ("call_centre", "customer-service", 1080, 180, "met"),  # 16-18 and 9-10
    ]


def test_a_reassignment_while_resolved_starts_no_stretch_and_the_reopen_starts_the_new_holders() -> None:
    facts = [
        fact("resolved", at(MONDAY, 10)),
        fact("reassigned", at(MONDAY, 11), department="tech_support"),
        fact("reopened", at(MONDAY, 12)),
        fact("resolved", at(MONDAY, 15)),
    ]

    rows = clocks_of(on_monday(), *facts)

    assert chain(rows) == [
        (1, "customer_service", at(MONDAY, 9), at(MONDAY, 10)),
        (2, "tech_support", at(MONDAY, 12), at(MONDAY, 15)),
    ]
    assert known(stretches(rows)[1], at(MONDAY, 15)).status == "met"  # 180 of 240


def test_a_reopen_after_closure_starts_a_stretch_and_a_resolution_cycle_carrying_its_minutes() -> None:
    facts = [
        fact("resolved", at(MONDAY, 10)),
        fact("closed", at(MONDAY, 11)),
        fact("reopened", at(TUESDAY, 9)),
        fact("resolved", at(TUESDAY, 10)),
    ]

    rows = clocks_of(on_monday(), *facts)

    assert chain(rows) == [
        (1, "customer_service", at(MONDAY, 9), at(MONDAY, 10)),
        (2, "customer_service", at(TUESDAY, 9), at(TUESDAY, 10)),
    ]
    final = [r for r in rows if r.clock == "resolution"][-1]
    assert (final.cycle, final.carried_minutes) == (2, 60)
    assert known(final, at(TUESDAY, 10)).elapsed_minutes == 120


def test_a_pause_stops_the_stretch_and_goes_on_into_the_next_one() -> None:
    facts = [
        fact("paused", at(MONDAY, 10)),
        fact("reassigned", at(MONDAY, 11), department="tech_support"),
        fact("resumed", at(MONDAY, 12)),
        fact("resolved", at(MONDAY, 14)),
    ]

    first, second = stretches(clocks_of(fact("received", at(MONDAY, 9), **PHONE), *facts))

    assert first.pauses == ((at(MONDAY, 10), at(MONDAY, 11)),)
    assert second.pauses == ((at(MONDAY, 11), at(MONDAY, 12)),)
    one, two = known(first, at(MONDAY, 14)), known(second, at(MONDAY, 14))
    assert (one.elapsed_minutes, one.paused_minutes) == (60, 60)
    assert (two.elapsed_minutes, two.paused_minutes, two.status) == (120, 60, "met")
    assert known(second, at(MONDAY, 11, 30)).status == "paused"
    assert two.deadline == at(MONDAY, 16)  # 11:00 + 240 working minutes + the hour paused


def test_a_stretch_counts_on_the_holders_calendar() -> None:
    facts = [
        fact("reassigned", at(FRIDAY, 18), department="night_desk"),  # works around the clock
        fact("resolved", at(FRIDAY + timedelta(1), 6)),
    ]

    rows = clocks_of(fact("received", at(FRIDAY, 17), **PHONE), *facts)

    office, night = stretches(rows)
    assert (office.calendar, known(office, at(FRIDAY, 18)).elapsed_minutes) == ("customer-service", 60)
    assert (night.calendar, known(night, at(FRIDAY, 23)).elapsed_minutes) == ("24/7", 300)
    assert known(night, at(FRIDAY + timedelta(1), 6)).elapsed_minutes == 720


def test_a_stretch_of_no_time_is_left_out_and_not_numbered() -> None:
    facts = [
        fact("reassigned", at(MONDAY, 9), department="tech_support"),  # at the receipt
        fact("reassigned", at(MONDAY, 12), department="services"),  # at the resolution
        fact("resolved", at(MONDAY, 12)),
    ]

    rows = clocks_of(on_monday(), *facts)

    assert chain(rows) == [(1, "tech_support", at(MONDAY, 9), at(MONDAY, 12))]


def test_a_reassignment_to_the_group_holding_it_does_not_end_the_stretch() -> None:
    facts = [
        fact("reassigned", at(MONDAY, 10), department="customer_service", assignee="another clerk"),
        fact("resolved", at(MONDAY, 12)),
    ]

    assert chain(clocks_of(on_monday(), *facts)) == [
        (1, "customer_service", at(MONDAY, 9), at(MONDAY, 12))
    ]


def test_a_stretch_still_held_runs_and_breaches_as_of_later() -> None:
    rows = clocks_of(on_monday(), fact("reassigned", at(MONDAY, 10), department="tech_support"))

    held = stretches(rows)[-1]

    assert held.stopped_at is None
    assert known(held, at(MONDAY, 12)).status == "running"
    assert known(held, at(MONDAY, 13, 45)).status == "at_risk"  # 15 of 240 left
    assert known(held, at(MONDAY, 15)).status == "running_breached"


def test_breach_minutes_belong_to_the_group_holding_the_incident_unless_an_escalation_has_it() -> None:
    facts = [
        fact("reassigned", at(MONDAY, 11), department="call_centre"),
        fact("escalated", at(MONDAY, 14), escalated_to="supplier"),
        fact("resolved", at(TUESDAY, 9, 30)),
    ]
    rows = clocks_of(on_monday(), *facts)

    shares = attribution(rows, RULES, at(TUESDAY, 12))

    # Customer Service's calendar: Monday 9-18 and Tuesday 9-9:30.
    assert shares == {"customer_service": 120, "call_centre": 180, "supplier": 270}


def test_attribution_as_of_a_moment_knows_only_the_stretches_begun_by_then() -> None:
    facts = [fact("reassigned", at(MONDAY, 11), department="call_centre")]
    rows = clocks_of(on_monday(), *facts)

    assert attribution(rows, RULES, at(MONDAY, 10)) == {"customer_service": 60}
    assert attribution(rows, RULES, at(MONDAY, 12)) == {"customer_service": 120, "call_centre": 60}


def test_the_handover_belongs_to_the_source_department_and_work_done_to_the_store_until_cs_is_told() -> None:
    saturday, monday = FRIDAY + timedelta(1), FRIDAY + timedelta(3)
    # Reported on Friday at 20:30:20; the store works 10-22, Customer Service Mon-Fri 9-18.
    receipt = fact("received", at(saturday, 11), reported_at=at(FRIDAY, 20, 30) + timedelta(seconds=20))
    resolved = fact("resolved", at(monday, 10, 30), completed_at=at(saturday, 21))

    shares = attribution(clocks_of(receipt, resolved), RULES, at(monday, 12))

    # 89 min 40 s on Friday and an hour on Saturday; Monday 9:00-10:30 the store had it.
    assert shares == {"source_department": 149.67, "store": 90}


def test_a_party_with_less_than_a_minute_is_still_named() -> None:
    saturday, monday = FRIDAY + timedelta(1), FRIDAY + timedelta(3)
    receipt = fact("received", at(saturday, 11), reported_at=at(saturday, 10, 59) + timedelta(seconds=30))

    shares = attribution(clocks_of(receipt, fact("resolved", at(monday, 10, 30))), RULES, at(monday, 12))

    assert shares == {"source_department": 0.5, "customer_service": 90}


def test_the_stretch_ended_by_the_resolution_carries_its_root_cause_and_resolution() -> None:
    facts = [
        fact("reassigned", at(MONDAY, 11), department="tech_support"),
        fact("resolved", at(MONDAY, 15), root_cause="supplier_delay", resolution="refund"),
    ]

    held = stretches(clocks_of(on_monday(), *facts))

    assert [(r.party, r.root_cause, r.resolution) for r in held] == [
        ("customer_service", None, None), ("tech_support", "supplier_delay", "refund"),
    ]  # fmt: skip
