"""The timeline order of an incident's facts, and the lifecycle rules of the real lifecycles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce
from itertools import permutations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import errors
from domain.lifecycle import BEGINNING, Entry, check_timeline, step
from domain.timeline import arrange

T0 = datetime(2025, 3, 3, 11, 47, tzinfo=UTC)
SN = "servicenow"


def entry(kind: str, event_id: str, minutes: float = 0, *, source: str = SN,
          sequence: int | None = None, stream: str | None = None,
          position: int | None = None) -> Entry:  # fmt: skip
    return Entry(T0 + timedelta(minutes=minutes), kind, event_id, source, sequence, stream, position)


RECEIVED = entry("received", "rcv", -60)


def ids(entries: list[Entry]) -> list[str]:
    return [e.event_id for e in entries]


# --- one instant: sequence, validity, arrival --------------------------------------------------


def test_resolved_reopened_resolved_in_one_minute_follow_the_sources_sequence() -> None:
    facts = [
        entry("resolved", "b", sequence=3), entry("resolved", "a", sequence=1),
        entry("reopened", "r", sequence=2),
    ]  # fmt: skip

    ordered = arrange([RECEIVED, *facts])

    assert ids(ordered) == ["rcv", "a", "r", "b"]
    check_timeline(ordered)


def test_without_a_sequence_resolved_reopened_resolved_get_the_order_that_is_valid() -> None:
    facts = [entry("resolved", "a"), entry("resolved", "b"), entry("reopened", "r")]

    ordered = arrange([RECEIVED, *facts])

    assert [e.kind for e in ordered] == ["received", "resolved", "reopened", "resolved"]
    check_timeline(ordered)


def test_resume_then_pause_in_one_minute_is_valid_whatever_the_partition_order() -> None:
    paused_before = entry("paused", "p0", -30)
    resumed = entry("resumed", "r1", stream="lifecycle:0", position=9)
    paused = entry("paused", "p1", stream="lifecycle:0", position=8)  # published first

    ordered = arrange([RECEIVED, paused_before, resumed, paused])

    assert ids(ordered) == ["rcv", "p0", "r1", "p1"]
    check_timeline(ordered)


def test_two_facts_valid_in_either_order_keep_the_order_they_arrived_in_on_one_partition() -> None:
    first = entry("reassigned", "to-g3", stream="lifecycle:1", position=4)
    second = entry("reassigned", "to-g2", stream="lifecycle:1", position=5)

    assert ids(arrange([RECEIVED, second, first]))[1:] == ["to-g3", "to-g2"]


def test_the_sources_sequence_wins_over_the_partition_order() -> None:
    first = entry("reassigned", "a", sequence=1, stream="lifecycle:1", position=5)
    second = entry("reassigned", "b", sequence=2, stream="lifecycle:1", position=4)

    assert ids(arrange([RECEIVED, second, first]))[1:] == ["a", "b"]


def test_sequences_of_different_sources_are_not_compared() -> None:
    store = entry("resolved", "store-says", source="store-014", sequence=9)
    desk = entry("closed", "desk-says", source="cs-desk", sequence=1)

    ordered = arrange([RECEIVED, desk, store])

    assert ids(ordered)[1:] == ["store-says", "desk-says"]  # the only valid order


def test_facts_of_different_instants_follow_event_time_whatever_their_sequences() -> None:
    later = entry("resolved", "later", 5, sequence=1)
    earlier = entry("paused", "earlier", 1, sequence=7)

    assert ids(arrange([later, RECEIVED, earlier])) == ["rcv", "earlier", "later"]


def test_an_instant_without_a_valid_order_keeps_the_preferred_order_so_the_check_names_a_culprit() -> None:
    facts = [entry("resolved", "a"), entry("resolved", "b")]  # no reopen between them

    ordered = arrange([RECEIVED, *facts])

    with pytest.raises(errors.AlreadyResolved) as caught:
        check_timeline(ordered)
    assert caught.value.event_id == "b"


def test_the_choice_at_one_instant_looks_ahead_to_what_later_facts_need() -> None:
    # At 11:47 "paused, resolved, reopened" (the preferred order) leaves the incident open,
    # "resolved, reopened, paused" leaves it paused; only the second lets 12:00's "resumed" in.
    now = [entry("paused", "p"), entry("resolved", "r"), entry("reopened", "o")]

    ordered = arrange([RECEIVED, *now, entry("resumed", "u", 13)])

    assert ids(ordered) == ["rcv", "r", "o", "p", "u"]
    check_timeline(ordered)


def test_without_a_later_need_the_preferred_valid_order_is_taken() -> None:
    now = [entry("paused", "p"), entry("resolved", "r"), entry("reopened", "o")]

    assert ids(arrange([RECEIVED, *now])) == ["rcv", "p", "r", "o"]


def test_facts_of_one_instant_that_nothing_else_orders_follow_the_preferred_order_of_kinds() -> None:
    # Valid in any order, no sequence, no common stream, and event ids that sort the other way
    # round: only the order of kinds (reclassified, reassigned, …, escalated) decides.
    now = [entry("escalated", "a"), entry("reassigned", "b"), entry("reclassified", "c")]

    for given_order in permutations(now):
        ordered = arrange([RECEIVED, *given_order])

        assert [e.kind for e in ordered] == ["received", "reclassified", "reassigned", "escalated"]


@given(st.permutations(range(6)))
def test_the_order_is_the_same_for_every_order_the_facts_are_given_in(order: list[int]) -> None:
    facts = [
        RECEIVED, entry("paused", "p", 1), entry("resumed", "u", 1), entry("resolved", "r", 1),
        entry("reopened", "o", 1), entry("closed", "c", 2),
    ]  # fmt: skip
    facts.insert(5, entry("resolved", "r2", 2))

    expected = arrange(facts)
    given_order = [facts[i] for i in order] + facts[6:]

    assert arrange(given_order) == expected
    check_timeline(expected)


# --- the real lifecycles ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kinds",
    [
        ["received", "reassigned", "resolved", "reassigned", "reopened", "resolved"],
        ["received", "resolved", "reclassified", "closed", "reopened", "resolved", "closed"],
        ["received", "paused", "reassigned", "reclassified", "resumed", "resolved", "closed",
         "rated", "thanked"],
    ],
    ids=["reassigned-while-resolved", "reopened-after-closure", "changes-while-paused"],
)  # fmt: skip
def test_real_lifecycles_are_valid(kinds: list[str]) -> None:
    timeline = [entry(kind, f"e{n}", n) for n, kind in enumerate(kinds)]

    check_timeline(timeline)


@pytest.mark.parametrize(
    ("kinds", "error"),
    [
        (["received", "closed"], errors.ClosedWhileOpen),
        (["received", "resolved", "closed", "closed"], errors.AlreadyClosed),
        (["received", "resolved", "closed", "reassigned"], errors.IncidentClosed),
        (["received", "resolved", "closed", "reclassified"], errors.IncidentClosed),
        (["received", "resolved", "closed", "escalated"], errors.EscalatedAfterResolution),
        (["received", "resolved", "closed", "resolved"], errors.AlreadyResolved),
        (["received", "resolved", "closed", "paused"], errors.PausedWhileResolved),
    ],
)
def test_a_closed_incident_is_final_until_it_is_reopened(
    kinds: list[str], error: type[errors.DomainError]
) -> None:
    timeline = [entry(kind, f"e{n}", n) for n, kind in enumerate(kinds)]

    with pytest.raises(error) as caught:
        check_timeline(timeline)

    assert caught.value.event_id == f"e{len(kinds) - 1}"
    assert caught.value.fixable  # a reopen arriving later, earlier in event time, cures it


def test_every_order_of_facts_at_one_instant_is_tried_only_within_its_budget() -> None:
    many = [entry("reclassified", f"c{n}") for n in range(40)]

    ordered = arrange([RECEIVED, *many])

    assert ids(ordered) == ["rcv", *sorted(ids(many))]


def test_permutations_of_a_small_instant_all_arrange_alike() -> None:
    facts = [entry("paused", "p"), entry("resumed", "u"), entry("reassigned", "g")]

    results = {tuple(ids(arrange([RECEIVED, *p]))) for p in permutations(facts)}

    assert results == {("rcv", "g", "p", "u")}


def test_a_closure_reported_with_a_reopen_and_a_resolution_in_one_minute_ends_closed() -> None:
    # One ServiceNow row: Resolved → Closed with reopen_count up, all at one sys_mod_count.
    resolved_before = entry("resolved", "r0", -10, sequence=4)
    row = [entry(k, f"{k}-5", sequence=5) for k in ("closed", "resolved", "reopened")]

    ordered = arrange([RECEIVED, resolved_before, *row])

    assert [e.kind for e in ordered][2:] == ["reopened", "resolved", "closed"]


# --- each rule names itself, and the fact that broke it ---------------------------------------


@pytest.mark.parametrize(
    ("kinds", "error", "message"),
    [
        (["resolved", "escalated"], errors.EscalatedAfterResolution, "escalated after resolution without reopening"),
        (["resolved", "closed", "closed"], errors.AlreadyClosed, "closed twice without reopening"),
        (["closed"], errors.ClosedWhileOpen, "closed before it was resolved"),
        (["resolved", "paused"], errors.PausedWhileResolved, "paused after resolution"),
        (["paused", "paused"], errors.AlreadyPaused, "paused while already paused"),
        (["resumed"], errors.NotPaused, "resumed while not paused"),
        (["paused", "resumed", "resumed"], errors.NotPaused, "resumed while not paused"),
        (["rated"], errors.RatedBeforeResolution, "rated before any resolution"),
    ],
    ids=lambda v: "-".join(v) if isinstance(v, list) else "",
)  # fmt: skip
def test_a_broken_rule_is_named_with_the_fact_that_broke_it(
    kinds: list[str], error: type[errors.DomainError], message: str
) -> None:
    timeline = [RECEIVED, *(entry(kind, f"e{n}", n + 1) for n, kind in enumerate(kinds))]

    with pytest.raises(error) as caught:
        check_timeline(timeline)

    assert (str(caught.value), caught.value.event_id) == (message, timeline[-1].event_id)


def test_a_resumed_incident_is_open_again_as_it_was_before_the_pause() -> None:
    before = reduce(step, [RECEIVED], BEGINNING)
    resolved_before = reduce(step, [RECEIVED, entry("resolved", "r", 1), entry("reopened", "o", 2)], BEGINNING)

    assert reduce(step, [RECEIVED, entry("paused", "p", 1), entry("resumed", "u", 2)], BEGINNING) == before
    assert reduce(step, [RECEIVED, entry("resolved", "r", 1), entry("reopened", "o", 2),
                         entry("paused", "p", 3), entry("resumed", "u", 4)], BEGINNING) == resolved_before  # fmt: skip
    assert resolved_before.ever_resolved and not resolved_before.resolved


def _standalone_thanks(event_id: str, minutes: float = 0) -> Entry:
    return Entry(T0 + timedelta(minutes=minutes), "thanked", event_id, SN, None, None, None, True)


@pytest.mark.parametrize(
    ("timeline", "error", "message"),
    [
        ([RECEIVED, entry("resolved", "a", 1), entry("resolved", "b", 2)], errors.AlreadyResolved,
         "resolved twice without reopening"),
        ([RECEIVED, entry("reopened", "b", 1)], errors.NotResolved, "reopened while not resolved"),
        ([RECEIVED, entry("received", "b", 1)], errors.AlreadyReceived, "the incident was already received"),
        ([entry("resolved", "b")], errors.BeforeReceipt, "resolved happened before the incident was received"),
        ([entry("thanked", "b")], errors.BeforeReceipt, "thanked happened before the incident was received"),
        ([_standalone_thanks("t"), entry("resolved", "b", 1)], errors.StandaloneThanksIsClosed,
         "resolved on a standalone thanks contact"),
        ([RECEIVED, _standalone_thanks("b", 1)], errors.AlreadyReceived, "standalone thanks on an existing incident"),
    ],
    ids=["resolved twice", "reopened while open", "received twice", "before receipt", "thanks first",
         "on a standalone thanks", "standalone thanks later"],
)  # fmt: skip
def test_the_rules_of_a_streams_beginning_are_named_with_the_fact_that_broke_them(
    timeline: list[Entry], error: type[errors.DomainError], message: str
) -> None:
    with pytest.raises(error) as caught:
        check_timeline(timeline)

    assert (str(caught.value), caught.value.event_id) == (message, "b")
