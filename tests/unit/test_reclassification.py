"""A reclassification re-targets the running clocks: the minutes counted so far are kept and
measured against the new classification's target, from the change on."""

from __future__ import annotations

from datetime import timedelta

from domain.clocks import ClockRow, measured_against
from domain.fact import Fact
from tests.clock_kit import MONDAY, V2, at, clocks_of, fact, known, on_monday, the

TUESDAY = MONDAY + timedelta(1)
NORMAL, HIGH = 1080, 720  # two CS working days; twelve working hours


def resolution(*facts: Fact) -> ClockRow:
    rows = clocks_of(on_monday(), *facts)
    return [row for row in rows if row.clock == "resolution"][-1]


def test_a_raised_priority_measures_the_minutes_so_far_against_the_new_target() -> None:
    row = resolution(fact("reclassified", at(MONDAY, 14), priority="high"))

    before, after = known(row, at(MONDAY, 13)), known(row, at(MONDAY, 15))
    near, late = known(row, at(TUESDAY, 11)), known(row, at(TUESDAY, 13))

    assert (before.target_minutes, before.elapsed_minutes, before.status) == (NORMAL, 240, "running")
    assert before.deadline == at(TUESDAY, 18)
    # Not restarted: the six hours counted since 9:00 stay counted.
    assert (after.target_minutes, after.elapsed_minutes) == (HIGH, 360)
    assert (near.remaining_minutes, near.status) == (60, "at_risk")
    assert near.deadline == at(TUESDAY, 12)
    assert late.status == "running_breached"  # under the old target it would still run


def test_the_outcome_is_measured_against_the_target_in_force_at_the_resolution() -> None:
    row = resolution(
        fact("reclassified", at(MONDAY, 14), priority="high"), fact("resolved", at(TUESDAY, 14))
    )

    outcome = known(row, at(TUESDAY, 18))

    assert (outcome.status, outcome.elapsed_minutes, outcome.target_minutes) == ("breached", 840, HIGH)
    assert (row.target_minutes, row.priority) == (HIGH, "high")
    assert [(t.since, t.priority, t.target_minutes) for t in row.targets] == [
        (at(MONDAY, 9), "normal", NORMAL), (at(MONDAY, 14), "high", HIGH),
    ]  # fmt: skip


def test_a_change_after_the_resolution_leaves_its_outcome_but_the_row_shows_the_final_class() -> None:
    row = resolution(
        fact("resolved", at(TUESDAY, 11)),
        fact("reclassified", at(TUESDAY, 12), priority="high", category="delivery"),
    )

    outcome = known(row, at(TUESDAY, 18))

    assert (outcome.status, outcome.target_minutes) == ("met", NORMAL)  # 660 of 1080
    assert (row.priority, row.category) == ("high", "delivery")
    assert [(t.priority, t.category) for t in row.targets] == [("normal", "product_quality")]


def test_a_change_while_resolved_sets_the_target_of_the_cycle_after_a_reopen() -> None:
    row = resolution(
        fact("resolved", at(TUESDAY, 11)),
        fact("reclassified", at(TUESDAY, 12), priority="high"),
        fact("reopened", at(TUESDAY, 13)),
        fact("resolved", at(TUESDAY, 14, 30)),
    )

    outcome = known(row, at(TUESDAY, 18))

    assert (row.cycle, row.carried_minutes, row.target_minutes) == (2, 660, HIGH)
    assert (outcome.elapsed_minutes, outcome.status) == (750, "breached")


def test_every_running_clock_follows_the_change_and_the_stretch_too() -> None:
    rows = clocks_of(
        on_monday(),
        fact("reassigned", at(MONDAY, 10), department="tech_support"),
        fact("reclassified", at(MONDAY, 11), priority="critical"),
    )

    assert the(rows, "resolution").target_at(at(MONDAY, 12)) == (540, 0)
    # The fake ownership targets do not depend on the priority: same target, both recorded.
    stretch = the(rows, "ownership", 2)
    assert [(t.priority, t.target_minutes) for t in stretch.targets] == [
        ("normal", 240), ("critical", 240),
    ]  # fmt: skip


def test_todays_policy_re_targets_each_classification_the_clock_had() -> None:
    row = resolution(fact("reclassified", at(MONDAY, 14), priority="high"))

    under_v2 = measured_against(row, V2)

    assert under_v2.policy_version == 2
    assert [t.target_minutes for t in under_v2.targets] == [540, HIGH]  # V2: normal is 9 hours
    assert known(under_v2, at(MONDAY, 13)).target_minutes == 540


def test_a_clock_never_reclassified_keeps_no_target_history() -> None:
    row = resolution(fact("resolved", at(MONDAY, 12)))

    assert row.targets == ()
    assert row.target_at(at(MONDAY, 10)) == (NORMAL, 0)
