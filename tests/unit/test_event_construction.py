"""Events built on the hot path are the library's events; the fast mapper stores the library's bytes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from eventsourcing.domain import datetime_now_with_tzinfo
from eventsourcing.persistence import DatetimeAsISO, Mapper, UUIDAsHex

from consumers.stored_json import OrjsonMapper, OrjsonTranscoder
from domain.fact import Fact
from domain.incident import Incident, _new_event

T0 = datetime(2024, 8, 14, 9, 40, tzinfo=timezone(timedelta(hours=3)))
RECEIVED = {
    "channel": "in_store", "department": "retail_store", "category": "product_quality",
    "reported_at": T0 - timedelta(hours=1), "store": "store-014", "priority": "normal",
    "customer_name": "Zinaida", "customer_phone": None, "customer_email": None, "customer_key": None, "summary": "x",
}  # fmt: skip


def _incident() -> Incident:
    incident = Incident.begin(
        Fact("received", "INC-1", "e-1", T0, "store-014", RECEIVED, sequence=3, arrival=("t:0", 9))
    )
    incident.record([
        Fact("resolved", "INC-1", "e-2", T0 + timedelta(hours=2), "store-014",
             {"resolution": "exchange", "root_cause": None, "completed_at": T0}),
        Fact("rated", "INC-1", "e-3", T0 + timedelta(hours=3), "store-014",
             {"rating": "good", "comment": "thanks"}),
    ])  # fmt: skip
    return incident


def test_events_are_those_the_library_constructor_builds() -> None:
    incident = _incident()

    for event in incident.pending_events:
        state = dict(vars(event))
        assert type(event)(**state) == event
        assert list(vars(type(event)(**state))) == list(state)  # the same attribute order


def test_the_incident_is_the_one_its_events_rebuild() -> None:
    incident = _incident()
    events = list(incident.pending_events)

    rebuilt = None
    for event in events:
        rebuilt = event.mutate(rebuilt)

    assert isinstance(rebuilt, Incident)
    assert rebuilt.version == incident.version == 3
    assert rebuilt.timeline == incident.timeline
    assert rebuilt.digests == incident.digests
    assert rebuilt.modified_on == incident.modified_on == events[-1].timestamp


def test_a_fact_whose_details_are_not_its_events_attributes_is_refused() -> None:
    now = datetime_now_with_tzinfo()
    resumed = Fact("resumed", "INC-1", "e", T0, "s")
    with pytest.raises(TypeError, match="missing"):
        _new_event(Incident.Resolved, resumed, 2, now)
    with pytest.raises(TypeError, match="unexpected"):
        _new_event(Incident.Resumed, Fact("resumed", "INC-1", "e", T0, "s", {"colour": "red"}), 2, now)
    assert _new_event(Incident.Resumed, resumed, 2, now) == Incident.Resumed(
        originator_id="INC-1", originator_version=2, timestamp=now, event_id="e",
        occurred_at=T0.isoformat(), source="s", digest=resumed.digest, sequence=None,
        arrival_stream=None, arrival_position=None,
    )  # fmt: skip


def _mappers() -> tuple[Mapper[str], OrjsonMapper]:
    transcoder = OrjsonTranscoder()
    for transcoding in (UUIDAsHex(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder), OrjsonMapper(transcoder=transcoder)


def test_the_fast_mapper_stores_the_librarys_bytes_and_reads_them_back() -> None:
    library, ours = _mappers()
    events = list(_incident().pending_events)

    stored = [ours.to_stored_event(e) for e in events]

    assert stored == [library.to_stored_event(e) for e in events]
    assert [library.to_domain_event(s) for s in stored] == events


_KIND_DETAILS: dict[str, dict[str, object]] = {
    "escalated": {"escalated_to": "tech_support", "reason": None},
    "resolved": {"resolution": "exchange", "root_cause": None, "completed_at": None},
    "reopened": {"reason": None},
    "paused": {"reason": "awaiting_customer"},
    "resumed": {},
    "closed": {"reason": None},
    "rated": {"rating": "good", "comment": None},
}


def _recorded(batches: list[list[tuple[str, int]]], follow: bool) -> tuple[list[object], list[object]]:
    incident = Incident.begin(Fact("received", "INC-1", "e-0", T0, "store-014", RECEIVED))
    if not follow:
        incident._follow = lambda entries: False  # type: ignore[method-assign]
    rejected = []
    for number, batch in enumerate(batches):
        facts = [
            Fact(kind, "INC-1", f"e-{number}-{i}", T0 + timedelta(minutes=minute), "store-014",
                 dict(_KIND_DETAILS[kind]))  # type: ignore[arg-type]
            for i, (kind, minute) in enumerate(batch)
        ]  # fmt: skip
        rejected.extend(
            (fact.event_id, type(error).__name__, error.event_id)
            for fact, error in incident.record(facts).items()
        )
    return incident.timeline, rejected  # type: ignore[return-value]


@given(
    st.lists(
        st.lists(st.tuples(st.sampled_from(sorted(_KIND_DETAILS)), st.integers(1, 8)), max_size=4),
        max_size=5,
    )
)
def test_facts_later_than_the_timeline_are_judged_as_the_full_check_judges_them(
    batches: list[list[tuple[str, int]]],
) -> None:
    assert _recorded(batches, follow=True) == _recorded(batches, follow=False)


def test_a_facts_digest_stays_what_stored_digests_were_computed_as() -> None:
    # Digests are stored with every event id and compared with later deliveries: one fact must
    # digest alike across versions (and without a sequence, as before sequences existed).
    details = {"channel": "phone", "reported_at": T0 - timedelta(hours=1)}
    plain = Fact("received", "INC-1", "e-1", T0, "store-014", details)
    counted = Fact("received", "INC-1", "e-1", T0, "store-014", details, sequence=3)

    assert plain.digest == "6eb3c02017544f49"
    assert counted.digest == "1cd1e19879f00922"
    assert Fact("received", "INC-1", "e-1", T0, "store-014", details, sequence=4).digest != counted.digest
