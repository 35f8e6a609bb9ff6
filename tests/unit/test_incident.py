"""The Incident aggregate, its lifecycle rules and the Incidents application."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import count
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.utils import get_topic
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import errors
from domain.application import Incidents
from domain.classification import CUSTOMER_SERVICE, classification_history
from domain.fact import Fact, Primitive
from domain.incident import Incident, in_timeline_order
from ticketstream.event_store import event_store_env

MOSCOW = ZoneInfo("Europe/Moscow")
T0 = datetime(2024, 8, 14, 9, 40, tzinfo=MOSCOW)
IN_MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}

_DETAILS: dict[str, dict[str, Primitive]] = {
    "received": {
        "channel": "in_store", "department": "retail_store", "category": "product_quality",
        "reported_at": None, "store": "store-014", "priority": "normal",
        "customer_name": "Zinaida Prokhorova", "customer_phone": "+7 912 345-67-89",
        "customer_email": None, "customer_key": None, "summary": "Kettle leaks after a week",
    },
    "escalated": {"escalated_to": "tech_support", "reason": None},
    "resolved": {"resolution": "exchange", "root_cause": None, "completed_at": None},
    "thanked": {"channel": "phone", "standalone": False, "department": None, "praised": None},
    "reopened": {"reason": None},
    "paused": {"reason": "awaiting_customer"},
    "resumed": {},
    "rated": {"rating": "good", "comment": None},
}  # fmt: skip
_IDS = count(1)


def fact(kind: str, minutes: float = 0, incident_id: str = "INC-1", **details: Primitive) -> Fact:
    """A fact of ``kind`` happening ``minutes`` after T0, with complete default details."""
    return Fact(
        kind=kind,
        incident_id=incident_id,
        event_id=f"{kind}-{next(_IDS)}",
        occurred_at=T0 + timedelta(minutes=minutes),
        source="store-014",
        details={**_DETAILS[kind], **details},
    )


def received(minutes: float = 0, incident_id: str = "INC-1") -> Incident:
    """An incident begun by its receipt."""
    return Incident.begin(fact("received", minutes, incident_id))


def kinds(incident: Incident) -> list[str]:
    return [entry.kind for entry in incident.timeline]


def new_incidents() -> Incidents:
    return Incidents(env=IN_MEMORY)


# --- how an incident begins -----------------------------------------------------------------


def test_an_incident_begins_with_its_receipt() -> None:
    receipt = fact("received", 0)

    incident = Incident.begin(receipt)

    assert incident.id == "INC-1"
    assert kinds(incident) == ["received"]
    assert incident.status == "open"
    assert incident.kind == "incident"
    assert (incident.channel, incident.department, incident.category) == (
        "in_store", "retail_store", "product_quality",
    )  # fmt: skip
    assert incident.received_at == incident.reported_at == T0
    assert incident.digests == {receipt.event_id: receipt.digest}


def test_the_customers_first_contact_is_kept_apart_from_the_receipt() -> None:
    contact = T0 - timedelta(hours=2)

    incident = Incident.begin(fact("received", 0, reported_at=contact))

    assert incident.reported_at == contact
    assert incident.received_at == T0


def test_a_standalone_thanks_begins_a_contact_of_its_own() -> None:
    thanks = fact("thanked", 0, standalone=True, praised="Store 14 team")

    incident = Incident.begin(thanks)

    assert incident.kind == "thanks"
    assert incident.status == "thanks"
    assert kinds(incident) == ["thanked"]


@pytest.mark.parametrize(
    "kind", ["escalated", "resolved", "thanked", "reopened", "paused", "resumed", "rated"]
)
def test_any_other_first_fact_waits_for_the_receipt(kind: str) -> None:
    first = fact(kind, 10)

    with pytest.raises(errors.IncidentNotReceived) as caught:
        Incident.begin(first)

    assert caught.value.fixable
    assert caught.value.event_id == first.event_id


@pytest.mark.parametrize("kind", ["escalated", "resolved", "rated"])
def test_a_batch_without_the_receipt_is_rejected_as_not_received_yet(kind: str) -> None:
    app = new_incidents()
    early = fact(kind, 10)

    decision = app.decide([early])

    assert decision.incidents == []
    assert [(f, type(e)) for f, e in decision.rejected] == [(early, errors.IncidentNotReceived)]
    assert app.find("INC-1") is None


# --- lifecycle rules ------------------------------------------------------------------------


def _rejection(incident: Incident, late: Fact) -> errors.DomainError:
    rejected = incident.record([late])
    assert list(rejected) == [late]
    return rejected[late]


def test_resolving_twice_without_reopening_is_rejected() -> None:
    incident = received()
    incident.record([fact("resolved", 10)])

    error = _rejection(incident, fact("resolved", 20))

    assert isinstance(error, errors.AlreadyResolved)
    assert error.fixable
    assert kinds(incident) == ["received", "resolved"]


def test_resolving_again_after_reopening_is_accepted() -> None:
    incident = received()

    rejected = incident.record([fact("resolved", 10), fact("reopened", 20), fact("resolved", 30)])

    assert rejected == {}
    assert kinds(incident) == ["received", "resolved", "reopened", "resolved"]
    assert incident.status == "resolved"


def test_escalating_a_resolved_incident_is_rejected() -> None:
    incident = received()
    incident.record([fact("resolved", 10)])

    error = _rejection(incident, fact("escalated", 20))

    assert isinstance(error, errors.EscalatedAfterResolution)
    assert error.fixable


def test_resuming_an_incident_that_is_not_paused_is_rejected() -> None:
    incident = received()

    error = _rejection(incident, fact("resumed", 10))

    assert isinstance(error, errors.NotPaused)
    assert error.fixable


def test_reopening_an_open_incident_is_rejected() -> None:
    incident = received()

    error = _rejection(incident, fact("reopened", 10))

    assert isinstance(error, errors.NotResolved)
    assert error.fixable


def test_rating_before_resolution_is_rejected() -> None:
    incident = received()

    error = _rejection(incident, fact("rated", 10))

    assert isinstance(error, errors.RatedBeforeResolution)
    assert error.fixable


def test_rating_after_a_reopened_resolution_is_accepted() -> None:
    incident = received()

    rejected = incident.record([fact("resolved", 10), fact("reopened", 20), fact("rated", 30)])

    assert rejected == {}
    assert incident.status == "open"


def test_pausing_a_paused_incident_is_rejected() -> None:
    incident = received()
    incident.record([fact("paused", 10)])

    error = _rejection(incident, fact("paused", 20))

    assert isinstance(error, errors.AlreadyPaused)
    assert error.fixable


def test_pausing_a_resolved_incident_is_rejected() -> None:
    incident = received()
    incident.record([fact("resolved", 10)])

    error = _rejection(incident, fact("paused", 20))

    assert isinstance(error, errors.PausedWhileResolved)


def test_a_fact_before_the_receipt_is_rejected_for_good() -> None:
    incident = received(60)

    error = _rejection(incident, fact("resolved", 30))

    assert isinstance(error, errors.BeforeReceipt)
    assert not error.fixable
    assert kinds(incident) == ["received"]


def test_a_second_receipt_is_rejected_for_good() -> None:
    incident = received()

    error = _rejection(incident, fact("received", 10))

    assert isinstance(error, errors.AlreadyReceived)
    assert not error.fixable


def test_a_standalone_thanks_on_an_existing_incident_is_rejected_for_good() -> None:
    incident = received()

    error = _rejection(incident, fact("thanked", 10, standalone=True))

    assert isinstance(error, errors.AlreadyReceived)
    assert not error.fixable


def test_a_thanks_about_an_incident_is_accepted_at_any_time_after_receipt() -> None:
    incident = received()

    rejected = incident.record([fact("thanked", 5), fact("resolved", 10), fact("thanked", 20)])

    assert rejected == {}
    assert kinds(incident) == ["received", "thanked", "resolved", "thanked"]


def test_nothing_more_happens_to_a_standalone_thanks() -> None:
    incident = Incident.begin(fact("thanked", 0, standalone=True))

    error = _rejection(incident, fact("rated", 10))

    assert isinstance(error, errors.StandaloneThanksIsClosed)
    assert not error.fixable


def test_a_rejected_fact_triggers_no_event() -> None:
    incident = received()
    before = len(incident.pending_events)

    incident.record([fact("resumed", 10)])

    assert len(incident.pending_events) == before
    assert kinds(incident) == ["received"]


def test_the_status_follows_event_time_not_arrival_order() -> None:
    incident = received()

    incident.record([fact("resolved", 40)])
    incident.record([fact("paused", 20)])

    assert kinds(incident) == ["received", "paused", "resolved"]
    assert incident.status == "resolved"


# --- idempotence and arrival order ----------------------------------------------------------


def test_the_same_event_id_twice_is_recorded_once() -> None:
    incident = received()
    resolution = fact("resolved", 10)
    incident.record([resolution])

    rejected = incident.record([resolution])

    assert rejected == {}
    assert kinds(incident) == ["received", "resolved"]
    assert len(incident.pending_events) == 2


def test_the_same_event_id_twice_in_one_batch_is_recorded_once() -> None:
    incident = received()
    resolution = fact("resolved", 10)

    incident.record([resolution, resolution])

    assert kinds(incident) == ["received", "resolved"]


def test_facts_valid_together_are_admitted_together_whatever_their_arrival_order() -> None:
    incident = received()
    incident.record([fact("resolved", 30)])

    rejected = incident.record([fact("reopened", 20), fact("resolved", 10)])

    assert rejected == {}
    assert kinds(incident) == ["received", "resolved", "reopened", "resolved"]


def test_facts_valid_together_are_admitted_even_beside_an_invalid_one() -> None:
    incident = received()
    incident.record([fact("resolved", 30)])
    stray = fact("resumed", 40)

    rejected = incident.record([fact("resolved", 10), fact("reopened", 20), stray])

    assert list(rejected) == [stray]
    assert kinds(incident) == ["received", "resolved", "reopened", "resolved"]


_NEXT_KINDS = {
    "open": ["escalated", "resolved", "paused", "thanked"],
    "paused": ["resumed", "escalated", "resolved", "thanked"],
    "resolved": ["reopened", "thanked"],
}
_STATE_AFTER = {"resolved": "resolved", "reopened": "open", "paused": "paused", "resumed": "open"}


@st.composite
def histories(draw: st.DrawFn) -> list[Fact]:
    """A valid incident history: received, then lifecycle facts at increasing times.

    Each fact carries its instant in a time zone of its own (the order is by instant).
    """
    state, ever_resolved = "open", False
    chosen = ["received"]
    for _ in range(draw(st.integers(0, 9))):
        allowed = _NEXT_KINDS[state] + (["rated"] if ever_resolved else [])
        kind = draw(st.sampled_from(allowed))
        state = _STATE_AFTER.get(kind, state)
        ever_resolved = ever_resolved or kind == "resolved"
        chosen.append(kind)
    minutes = 0
    facts = []
    for index, kind in enumerate(chosen):
        minutes += draw(st.integers(1, 3 * 24 * 60))
        zone = timezone(timedelta(minutes=draw(st.integers(-12 * 60, 14 * 60))))
        at = (T0 + timedelta(minutes=minutes)).astimezone(zone)
        facts.append(Fact(kind, "INC-7", f"e{index:02d}", at, "edms", dict(_DETAILS[kind])))
    return facts


def _in_one_go(history: list[Fact]) -> Incident:
    incident = Incident.begin(history[0])
    assert incident.record(history[1:]) == {}
    return incident


@settings(max_examples=200, deadline=None)
@given(histories().flatmap(lambda h: st.tuples(st.just(h), st.permutations(h[1:]))))
def test_a_valid_history_recorded_one_fact_at_a_time_in_any_order_ends_complete(
    case: tuple[list[Fact], list[Fact]],
) -> None:
    history, arrivals = case
    incident = Incident.begin(history[0])
    parked: list[Fact] = []

    for arrival in arrivals:
        rejected = incident.record([arrival, *parked])
        assert all(error.fixable for error in rejected.values())
        parked = list(rejected)

    assert parked == []
    assert incident.timeline == _in_one_go(history).timeline
    assert [entry.event_id for entry in incident.timeline] == [f.event_id for f in history]


@settings(max_examples=150, deadline=None)
@given(histories().flatmap(lambda h: st.tuples(st.just(h), st.permutations(h))))
def test_a_valid_history_decided_and_saved_one_fact_at_a_time_in_any_order_ends_complete(
    case: tuple[list[Fact], list[Fact]],
) -> None:
    history, arrivals = case
    app = new_incidents()
    parked: list[Fact] = []

    for arrival in arrivals:
        decision = app.decide([arrival, *parked])
        assert all(error.fixable for _, error in decision.rejected)
        parked = [rejected for rejected, _ in decision.rejected]
        app.save(*decision.incidents)

    expected = _in_one_go(history)
    assert parked == []
    assert len(app.history("INC-7")) == len(history)
    app.forget_cached()
    rebuilt = app.find("INC-7")
    assert rebuilt is not None
    assert rebuilt.timeline == expected.timeline
    assert rebuilt.status == expected.status


# --- the Incidents application --------------------------------------------------------------


def test_incidents_are_kept_in_memory_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PERSISTENCE_MODULE", raising=False)

    app = Incidents()

    assert isinstance(app.recorder, POPOApplicationRecorder)
    app.save(*app.decide([fact("received", 0)]).incidents)
    assert app.find("INC-1") is not None


def test_deciding_groups_facts_by_incident() -> None:
    app = new_incidents()
    batch = [
        fact("received", 0, "INC-1"),
        fact("received", 5, "INC-2"),
        fact("resolved", 10, "INC-1"),
        fact("paused", 15, "INC-2"),
    ]

    decision = app.decide(batch)

    assert sorted(i.id for i in decision.incidents) == ["INC-1", "INC-2"]
    timelines = {i.id: kinds(i) for i in decision.incidents}
    assert timelines == {"INC-1": ["received", "resolved"], "INC-2": ["received", "paused"]}
    assert decision.rejected == []
    assert decision.duplicates == 0


def test_deciding_returns_the_rejected_facts_with_their_errors() -> None:
    app = new_incidents()
    orphan = fact("resolved", 10, "INC-9")
    stray = fact("resumed", 10, "INC-1")

    decision = app.decide([fact("received", 0, "INC-1"), orphan, stray])

    assert [i.id for i in decision.incidents] == ["INC-1"]
    errors_by_fact = {f.event_id: type(e) for f, e in decision.rejected}
    assert errors_by_fact == {
        orphan.event_id: errors.IncidentNotReceived,
        stray.event_id: errors.NotPaused,
    }


def test_a_batch_may_begin_an_incident_whatever_the_order_of_its_facts() -> None:
    app = new_incidents()

    decision = app.decide([fact("resolved", 10), fact("escalated", 5), fact("received", 0)])

    assert decision.rejected == []
    assert kinds(decision.incidents[0]) == ["received", "escalated", "resolved"]


def test_deciding_stores_nothing_until_the_decision_is_saved() -> None:
    app = new_incidents()

    app.decide([fact("received", 0)])

    assert app.history("INC-1") == []
    assert app.find("INC-1") is None


def test_a_saved_incident_can_be_found_and_its_history_read() -> None:
    app = new_incidents()
    batch = [fact("received", 0), fact("escalated", 10), fact("resolved", 20)]
    decision = app.decide(batch)

    app.save(*decision.incidents)

    incident = app.find("INC-1")
    assert incident is not None
    assert kinds(incident) == ["received", "escalated", "resolved"]
    history = app.history("INC-1")
    assert [type(e).__name__ for e in history] == ["Received", "Escalated", "Resolved"]
    assert all(isinstance(e, Incident.Event) for e in history)
    assert [e.event_id for e in history if isinstance(e, Incident.Event)] == [
        f.event_id for f in batch
    ]


def test_a_saved_incident_is_rebuilt_from_its_stored_events() -> None:
    app = new_incidents()
    contact = T0 - timedelta(hours=1)
    batch = [fact("received", 0, reported_at=contact), fact("paused", 10), fact("resumed", 20)]
    app.save(*app.decide(batch).incidents)
    app.forget_cached()

    incident = app.find("INC-1")

    assert incident is not None
    assert kinds(incident) == ["received", "paused", "resumed"]
    assert incident.reported_at == contact
    assert incident.received_at == T0
    assert incident.channel == "in_store"
    assert (incident.store, incident.priority) == ("store-014", "normal")


def test_later_batches_extend_the_saved_incident() -> None:
    app = new_incidents()
    app.save(*app.decide([fact("received", 0), fact("resolved", 30)]).incidents)

    decision = app.decide([fact("reopened", 20), fact("resolved", 10)])
    app.save(*decision.incidents)

    assert decision.rejected == []
    assert len(app.history("INC-1")) == 4
    incident = app.find("INC-1")
    assert incident is not None
    assert kinds(incident) == ["received", "resolved", "reopened", "resolved"]


def test_a_redelivered_fact_is_counted_as_a_duplicate_and_stored_once() -> None:
    app = new_incidents()
    receipt, resolution = fact("received", 0), fact("resolved", 10)
    app.save(*app.decide([receipt, resolution]).incidents)

    decision = app.decide([resolution, receipt])
    app.save(*decision.incidents)

    assert decision.duplicates == 2
    assert decision.incidents == []
    assert decision.rejected == []
    assert len(app.history("INC-1")) == 2


def test_the_same_fact_twice_in_one_batch_is_counted_as_a_duplicate() -> None:
    app = new_incidents()
    app.save(*app.decide([fact("received", 0)]).incidents)
    resolution = fact("resolved", 10)

    decision = app.decide([resolution, resolution])
    app.save(*decision.incidents)

    assert decision.duplicates == 1
    assert len(app.history("INC-1")) == 2


def test_saving_a_decision_stores_its_new_events_and_counts_them() -> None:
    app = new_incidents()
    batch = [fact("received", 0), fact("escalated", 10), fact("received", 0, "INC-2")]
    decision = app.decide(batch)

    stored = app.save_decision(decision)

    assert stored == 3
    assert len(app.history("INC-1")) == 2
    assert len(app.history("INC-2")) == 1


def test_an_unknown_incident_is_not_found_and_has_no_history() -> None:
    app = new_incidents()

    found = app.find("INC-404")

    assert found is None
    assert app.history("INC-404") == []


# --- the Incidents application on SQLite (the store and cache the CLI uses) ------------------


def sqlite_incidents(path: Path) -> Incidents:
    return Incidents(env=event_store_env(str(path)))


def test_the_histories_of_many_incidents_are_read_together_in_version_order(tmp_path: Path) -> None:
    for app in (new_incidents(), sqlite_incidents(tmp_path / "e.db")):
        one = [fact("received", 0), fact("escalated", 10), fact("resolved", 20)]
        app.save_decision(app.decide([*one, fact("received", 5, "INC-2")]))

        found = app.histories(["INC-1", "INC-2", "INC-404"])

        assert sorted(found) == ["INC-1", "INC-2"]
        assert [e.event_id for e in found["INC-1"]] == [f.event_id for f in one]
        assert [e.originator_version for e in found["INC-2"]] == [1]


def test_events_since_reads_every_later_event_page_by_page_in_recorded_order(tmp_path: Path) -> None:
    app = sqlite_incidents(tmp_path / "e.db")
    batches = [[fact("received", 0), fact("escalated", 10)], [fact("received", 5, "INC-2")],
               [fact("resolved", 20)]]  # fmt: skip
    for batch in batches:
        app.save_decision(app.decide(batch))
    recorded = [f.event_id for batch in batches for f in batch]

    everything = list(app.events_since(0, page=2))

    assert [e.event_id for _, e in everything] == recorded
    ids = [n for n, _ in everything]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert [e.event_id for _, e in app.events_since(ids[0], page=1)] == recorded[1:]
    assert [e.event_id for _, e in app.events_since(ids[1])] == recorded[2:]
    assert list(app.events_since(ids[-1])) == []


def test_an_incident_is_stale_only_when_the_store_holds_a_later_version(tmp_path: Path) -> None:
    for app in (new_incidents(), sqlite_incidents(tmp_path / "e.db")):
        app.save_decision(app.decide([fact("received", 0), fact("escalated", 10)]))

        assert app.stale({"INC-1": 2}) == set()
        assert app.stale({"INC-1": 1}) == {"INC-1"}


def test_the_duplicates_and_waiting_facts_of_a_decision_are_counted_over_every_incident() -> None:
    app = new_incidents()
    app.save_decision(app.decide([fact("received", 0)]))
    resolution = fact("resolved", 10)
    waiting = fact("resolved", 10, "INC-2")
    conflict = Fact(kind="resolved", incident_id="INC-2", event_id=waiting.event_id,
                    occurred_at=waiting.occurred_at, source="edms", details=waiting.details)  # fmt: skip
    lone = fact("escalated", 5, "INC-3")

    decision = app.decide([resolution, resolution, waiting, waiting, conflict, lone, lone])

    # INC-1's duplicate, INC-2's and INC-3's: waiting facts and a conflict are no duplicates.
    assert decision.duplicates == 3
    reasons = sorted((f.incident_id, type(e).__name__) for f, e in decision.rejected)
    assert reasons == [("INC-2", "EventIdConflict"), ("INC-2", "IncidentNotReceived"),
                       ("INC-3", "IncidentNotReceived")]  # fmt: skip
    not_received = [e for _, e in decision.rejected if isinstance(e, errors.IncidentNotReceived)]
    assert sorted(e.event_id for e in not_received) == sorted([waiting.event_id, lone.event_id])
    [clash] = [(f, e) for f, e in decision.rejected if isinstance(e, errors.EventIdConflict)]
    assert clash[0] is conflict and clash[1].event_id == waiting.event_id


def test_the_events_of_one_decision_are_recorded_at_one_time() -> None:
    app = new_incidents()
    app.save_decision(app.decide([fact("received", 0)]))

    decision = app.decide([fact("resolved", 10), fact("received", 0, "INC-2"), fact("paused", 5, "INC-2")])

    stamps = {e.timestamp for i in decision.incidents for e in i.pending_events}
    [stamp] = stamps
    assert isinstance(stamp, datetime) and stamp.tzinfo is not None


def test_a_decision_says_which_cached_incidents_it_used_and_at_which_version(tmp_path: Path) -> None:
    app = sqlite_incidents(tmp_path / "e.db")
    app.save_decision(app.decide([fact("received", 0), fact("escalated", 10), fact("received", 0, "INC-2")]))
    app.forget_cached(["INC-2"])

    decision = app.decide([fact("resolved", 20), fact("resolved", 20, "INC-2")])

    assert decision.cached == {"INC-1": 2}
    assert decision.rejected == []


def test_an_incident_read_from_the_store_is_cached_for_the_next_decision(tmp_path: Path) -> None:
    app = sqlite_incidents(tmp_path / "e.db")
    app.save_decision(app.decide([fact("received", 0)]))
    app.forget_cached()

    first = app.decide([fact("escalated", 10)])
    second = app.decide([fact("paused", 20)])

    assert first.cached == {} and second.cached == {"INC-1": 2}
    assert [kinds(i) for i in second.incidents] == [["received", "escalated", "paused"]]


def test_forgetting_a_cached_incident_reads_what_another_writer_stored(tmp_path: Path) -> None:
    ours, theirs = sqlite_incidents(tmp_path / "e.db"), sqlite_incidents(tmp_path / "e.db")
    ours.save_decision(ours.decide([fact("received", 0), fact("received", 0, "INC-2")]))
    theirs.save_decision(theirs.decide([fact("escalated", 10), fact("escalated", 10, "INC-2")]))

    ours.forget_cached(["INC-1"])

    known = ours.find_many(["INC-1", "INC-2"])
    assert kinds(known["INC-1"]) == ["received", "escalated"]
    assert kinds(known["INC-2"]) == ["received"]  # still the cached one: not forgotten


def test_a_reloaded_incident_keeps_each_facts_sequence_and_arrival(tmp_path: Path) -> None:
    app = sqlite_incidents(tmp_path / "e.db")
    facts = [
        Fact("received", "INC-1", "r-1", T0, "store-014", _DETAILS["received"], 3, ("crm-0", 12)),
        Fact("paused", "INC-1", "p-1", T0, "store-014", _DETAILS["paused"], 4, ("crm-0", 13)),
        Fact("resumed", "INC-1", "s-1", T0 + timedelta(minutes=5), "store-014", {}, None, None),
    ]
    decision = app.decide(facts)
    [decided] = decision.incidents
    app.save_decision(decision)
    app.forget_cached()

    reloaded = app.find("INC-1")

    assert reloaded is not None and reloaded.timeline == decided.timeline
    assert [(e.sequence, e.stream, e.position) for e in reloaded.timeline] == [
        (3, "crm-0", 12), (4, "crm-0", 13), (None, None, None)
    ]
    stored = app.history("INC-1")
    assert [(e.sequence, e.arrival_stream, e.arrival_position) for e in stored] == [  # type: ignore[attr-defined]
        (3, "crm-0", 12), (4, "crm-0", 13), (None, None, None)
    ]
    # Whoever reads the stored beginning (the library, another version) builds an Incident.
    assert stored[0].originator_topic == get_topic(Incident)  # type: ignore[attr-defined]


def test_stored_events_come_back_once_each_in_timeline_order() -> None:
    app = new_incidents()
    batch = [fact("received", 0), fact("resolved", 10), fact("reopened", 20), fact("escalated", 5)]
    app.save_decision(app.decide(batch))
    events = app.history("INC-1")

    ordered = in_timeline_order([events[2], events[0], *events[::-1]])

    assert [type(e).__name__ for e in ordered] == ["Received", "Escalated", "Resolved", "Reopened"]


def test_a_fact_that_breaks_a_recorded_one_is_rejected_and_a_later_valid_one_admitted() -> None:
    incident = received()
    incident.record([fact("resolved", 30)])
    early, rating = fact("resolved", 10), fact("rated", 40)

    rejected = incident.record([early, rating])

    assert list(rejected) == [early]
    assert kinds(incident) == ["received", "resolved", "rated"]


def test_the_invalid_fact_itself_is_rejected_not_the_latest_beside_it() -> None:
    incident = received()
    stray, escalation = fact("resumed", 10), fact("escalated", 20)

    rejected = incident.record([stray, escalation])

    assert list(rejected) == [stray]
    assert kinds(incident) == ["received", "escalated"]


def test_facts_listed_latest_first_are_checked_in_event_time() -> None:
    incident = received()
    incident.record([fact("resolved", 30)])
    rating, reopening = fact("rated", 40), fact("reopened", 20)

    rejected = incident.record([rating, reopening])

    # Reopened at 20, the incident was still open (resolved only at 30).
    assert list(rejected) == [reopening]
    assert kinds(incident) == ["received", "resolved", "rated"]


def test_a_fact_at_the_instant_of_the_last_one_takes_its_place_by_kind() -> None:
    incident = received()
    incident.record([fact("resolved", 30)])

    rejected = incident.record([fact("escalated", 30)])

    assert rejected == {}
    assert kinds(incident) == ["received", "escalated", "resolved"]


# --- the classification history --------------------------------------------------------------


def test_the_classification_in_force_follows_each_reclassification_and_reassignment() -> None:
    app = new_incidents()
    change = {"priority": None, "category": None, "channel": None}
    app.save_decision(app.decide([
        fact("received", 0),
        Fact("reclassified", "INC-1", "c-1", T0 + timedelta(minutes=10), "crm", {**change, "channel": "phone"}),
        Fact("reassigned", "INC-1", "a-1", T0 + timedelta(minutes=20), "crm",
             {"department": "tech_support", "assignee": None, "reason": None}),
    ]))  # fmt: skip

    history = classification_history(in_timeline_order(app.history("INC-1")))

    assert history is not None
    first, reclassified, reassigned = history.values
    assert (first.channel, first.holder) == ("in_store", CUSTOMER_SERVICE)
    assert (reclassified.channel, reclassified.category) == ("phone", "product_quality")
    assert reclassified.holder == CUSTOMER_SERVICE
    assert (reassigned.channel, reassigned.holder) == ("phone", "tech_support")
    assert history.final == reassigned
    # At an instant: the change at that very instant included; before the receipt, the first.
    assert history.at(T0 - timedelta(hours=1)) == first
    assert history.at(T0 + timedelta(minutes=9)) == first
    assert history.at(T0 + timedelta(minutes=10)) == reclassified
    assert history.at((T0 + timedelta(minutes=15)).astimezone(timezone.utc)) == reclassified
    assert history.at(T0 + timedelta(minutes=20)) == reassigned
    assert history.at(T0 + timedelta(days=9)) == reassigned
