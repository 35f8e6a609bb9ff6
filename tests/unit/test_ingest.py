"""The batch ingest step on a real SQLite store: offsets, duplicates, parking, dead letters."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import count, pairwise
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.ingest import Ingest, IngestOptions
from consumers.ingest_recorder import IngestTables
from consumers.records import Coordinates, Message
from contracts.routing import TopicMap
from domain.application import Incidents
from domain.incident import Incident
from producers.simulator import SimulationSpec, simulate
from ticketstream.assembly import ingest_recorder
from tests.integration.conftest import POSTGRES_URL
from ticketstream.event_store import drop_schema, ensure_schema, event_store_env

Event = dict[str, Any]
Outcome = tuple[frozenset[tuple[str, str]], tuple[tuple[str, int, int, str], ...], frozenset[str]]

TOPICS = TopicMap()
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
_REQUIRED: dict[str, Event] = {
    "received": {"channel": "email", "department": "retail_store", "category": "product_quality"},
    "escalated": {"escalated_to": "tech_support"},
    "resolved": {"resolution": "exchange"},
    "thanked": {"channel": "phone"},
    "reopened": {},
    "paused": {},
    "resumed": {},
    "rated": {"rating": "good"},
    "reassigned": {"department": "tech_support"},
    "reclassified": {"priority": "high"},
    "closed": {},
}
_EVENT_NUMBERS = count(1)


def wire(kind: str, incident_id: str = "INC-1", hours: float = 0, **fields: Any) -> Event:
    """A valid wire event of ``kind`` (DESIGN §2) happening ``hours`` after T0."""
    return {
        "event_id": str(UUID(int=next(_EVENT_NUMBERS), version=4)),
        "type": f"incident.{kind}",
        "schema_version": 1,
        "incident_id": incident_id,
        "occurred_at": (T0 + timedelta(hours=hours)).isoformat(),
        "source": "store-014",
        **_REQUIRED[kind],
        **fields,
    }


class Feed:
    """Messages as a broker hands them out: every topic-partition numbered from offset 0."""

    def __init__(self) -> None:
        self.next_offsets: Counter[tuple[str, int]] = Counter()

    def __call__(self, event: Event, *, key: bytes | None = None, partition: int = 0) -> Message:
        """The message an upstream system publishes for ``event``, on its default topic."""
        topic = TOPICS.topic_for(str(event["type"]))
        key = key or str(event["incident_id"]).encode()
        return self.raw(json.dumps(event).encode(), topic, key, partition)

    def raw(
        self, value: bytes, topic: str, key: bytes | None = None, partition: int = 0
    ) -> Message:
        """A message with exactly these bytes at the next offset of ``topic:partition``."""
        offset = self.next_offsets[topic, partition]
        self.next_offsets[topic, partition] += 1
        return Message(Coordinates(topic, partition, offset), key, value)


def messages_of(events: Sequence[Event], partition: int = 0) -> list[Message]:
    """The events on their default topics, keyed by incident id, in the given order."""
    feed = Feed()
    return [feed(event, partition=partition) for event in events]


def open_app(path: Path) -> Incidents:
    """The Incidents application on an SQLite file, built the way the CLI builds it."""
    return Incidents(env=event_store_env(str(path)))


def store(app: Incidents) -> IngestTables:
    """The event store's ingest tables: offsets, parked events, dead letters."""
    return ingest_recorder(app)


def stored_events(app: Incidents) -> list[tuple[str, str]]:
    """(incident_id, event_id) of every stored event, in notification order."""
    stored = []
    for notification in app.recorder.select_notifications(start=None, limit=10**6):
        event = app.mapper.to_domain_event(notification)
        assert isinstance(event, Incident.Event)
        stored.append((event.originator_id, event.event_id))
    return stored


def reasons(app: Incidents) -> list[str]:
    """The reasons of the stored dead letters, oldest first."""
    return [stored.letter.reason for stored in store(app).dead_letters()]


def parked_ids(app: Incidents) -> set[str]:
    """Event ids of the stored parked events."""
    return {parked.event_id for parked in store(app).parked_events()}


def kinds(app: Incidents, incident_id: str) -> list[str]:
    """The stored event classes of one incident, in recorded order."""
    return [type(event).__name__ for event in app.history(incident_id)]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Incidents]:
    application = open_app(tmp_path / "e.db")
    yield application
    application.close()


@pytest.fixture
def feed() -> Feed:
    return Feed()


@pytest.fixture
def two_members(tmp_path: Path) -> Iterator[tuple[Incidents, Incidents]]:
    """Two group members' applications on one store (each its own cache of incidents)."""
    first, second = open_app(tmp_path / "e.db"), open_app(tmp_path / "e.db")
    yield first, second
    first.close()
    second.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def two_members_on_each_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Incidents, Incidents]]:
    """As ``two_members``, on an SQLite file and on the local PostgreSQL (own schema)."""
    if request.param == "sqlite":
        location = str(tmp_path / "e.db")
    else:
        location = f"{POSTGRES_URL}?schema=unit_{uuid4().hex[:12]}"
        ensure_schema(location)
    first, second = (Incidents(env=event_store_env(location)) for _ in range(2))
    yield first, second
    first.close()
    second.close()
    if request.param == "postgresql":
        drop_schema(location)


# --- events, offsets and dead letters in one transaction ------------------------------------


def test_a_batch_stores_its_events_offsets_and_dead_letters_together(
    app: Incidents, feed: Feed
) -> None:
    received, escalated = wire("received"), wire("escalated", hours=1)
    batch = [feed(received), feed.raw(b"{not json", TOPICS.received), feed(escalated)]

    result = Ingest(app).process(batch)

    assert stored_events(app) == [("INC-1", received["event_id"]), ("INC-1", escalated["event_id"])]
    assert store(app).stored_offsets() == {"incidents.received:0": 1, "incidents.escalated:0": 0}
    assert reasons(app) == ["not_json"]
    assert (result.messages, result.applied, result.dead_lettered) == (3, 2, 1)


def test_a_batch_that_fails_to_commit_stores_nothing_and_can_be_processed_again(
    app: Incidents, feed: Feed, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = [feed(wire("received")), feed.raw(b"{not json", TOPICS.received)]
    ingest = Ingest(app)

    def fail(*args: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(app.recorder, "insert_batch", fail)
    with pytest.raises(RuntimeError):
        ingest.process(batch)
    monkeypatch.undo()

    assert (stored_events(app), store(app).stored_offsets(), reasons(app)) == ([], {}, [])
    assert ingest.positions == {}
    retried = ingest.process(batch)
    assert (retried.applied, retried.dead_lettered, retried.redelivered) == (1, 1, 0)
    assert len(stored_events(app)) == 1
    assert store(app).stored_offsets() == {"incidents.received:0": 1}


def test_messages_delivered_again_at_the_same_offsets_are_skipped_and_change_nothing(
    app: Incidents, feed: Feed
) -> None:
    batch = [
        feed(wire("received")),
        feed(wire("resolved", hours=2)),
        feed.raw(b"\xff garbage", TOPICS.resolved),
    ]
    ingest = Ingest(app)
    ingest.process(batch)
    before = (stored_events(app), store(app).stored_offsets(), reasons(app))

    again = ingest.process(batch)

    assert (again.redelivered, again.applied, again.duplicates, again.dead_lettered) == (3, 0, 0, 0)
    assert (stored_events(app), store(app).stored_offsets(), reasons(app)) == before


def test_the_same_event_at_a_new_offset_is_a_duplicate_and_changes_nothing(
    app: Incidents, feed: Feed
) -> None:
    received, resolved = wire("received"), wire("resolved", hours=2)
    ingest = Ingest(app)
    ingest.process([feed(received), feed(resolved)])
    events_before = stored_events(app)

    again = ingest.process([feed(received), feed(resolved)])

    assert (again.redelivered, again.applied, again.duplicates) == (0, 0, 2)
    assert stored_events(app) == events_before
    assert kinds(app, "INC-1") == ["Received", "Resolved"]
    assert reasons(app) == []
    assert store(app).stored_offsets() == {"incidents.received:0": 1, "incidents.resolved:0": 1}


# --- early events are parked until their incident begins ------------------------------------


def test_an_event_arriving_before_its_receipt_is_parked_and_applied_when_the_receipt_arrives(
    app: Incidents, feed: Feed
) -> None:
    received = wire("received", "INC-7")
    escalated, resolved = wire("escalated", "INC-7", hours=1), wire("resolved", "INC-7", hours=3)
    ingest = Ingest(app)
    early = ingest.process([feed(resolved), feed(escalated)])
    assert early.parked == 2
    assert parked_ids(app) == {resolved["event_id"], escalated["event_id"]}
    assert {p.reason for p in store(app).parked_events()} == {"not_received"}
    assert stored_events(app) == []

    late = ingest.process([feed(received)])

    assert (late.applied, late.unparked) == (3, 2)
    assert kinds(app, "INC-7") == ["Received", "Escalated", "Resolved"]
    assert store(app).parked_events() == []
    assert ingest.parked == {}
    assert reasons(app) == []


def test_a_parked_event_whose_incident_never_begins_becomes_an_orphan_after_the_orphan_time(
    app: Incidents, feed: Feed
) -> None:
    orphan = wire("resolved", "INC-LOST")
    message = feed(orphan)
    ingest = Ingest(app, IngestOptions(orphan_after=timedelta(days=7)))
    ingest.process([message], read_to_end=lambda: True)
    ingest.process([feed(wire("received", "INC-2", hours=7 * 24))], read_to_end=lambda: True)
    assert parked_ids(app) == {orphan["event_id"]}

    result = ingest.process([feed(wire("received", "INC-3", hours=7 * 24 + 0.01))], read_to_end=lambda: True)

    assert result.reasons == {"orphan": 1}
    [letter] = [stored.letter for stored in store(app).dead_letters()]
    assert (letter.reason, letter.event_id, letter.incident_id) == (
        "orphan", orphan["event_id"], "INC-LOST",
    )  # fmt: skip
    assert letter.message == message
    assert store(app).parked_events() == []
    assert ingest.parked == {}
    assert "INC-LOST" not in {incident_id for incident_id, _ in stored_events(app)}


def test_a_parked_event_is_not_expired_while_any_partition_has_unread_data(
    app: Incidents, feed: Feed
) -> None:
    orphan = wire("resolved", "INC-LOST")
    ingest = Ingest(app, IngestOptions(orphan_after=timedelta(days=7)))
    ingest.process([feed(orphan)], read_to_end=lambda: True)

    result = ingest.process(
        [feed(wire("received", "INC-2", hours=30 * 24))], read_to_end=lambda: False
    )

    assert result.dead_lettered == 0
    assert parked_ids(app) == {orphan["event_id"]}
    caught_up = ingest.process([], read_to_end=lambda: True)
    assert caught_up.reasons == {"orphan": 1}
    assert store(app).parked_events() == []


def test_without_knowing_whether_everything_is_read_nothing_expires(
    app: Incidents, feed: Feed
) -> None:
    orphan = wire("resolved", "INC-LOST")
    ingest = Ingest(app, IngestOptions(orphan_after=timedelta(days=7)))
    ingest.process([feed(orphan)])

    held = ingest.process([feed(wire("received", "INC-2", hours=30 * 24))])

    assert held.dead_lettered == 0
    assert parked_ids(app) == {orphan["event_id"]}


def test_in_a_grouped_export_an_early_event_waits_for_its_receipt_however_late_it_comes(
    app: Incidents, feed: Feed
) -> None:
    # A history export grouped by incident: the newest event time jumps to the end of the
    # history at once, long before INC-1's receipt is read from its own topic.
    early = wire("resolved", "INC-1", hours=2)
    ingest = Ingest(app, IngestOptions(orphan_after=timedelta(days=7)))
    ingest.process([feed(early)], read_to_end=lambda: False)
    later_history = [feed(wire("received", f"INC-{n}", hours=24 * n)) for n in range(2, 60)]
    ingest.process(later_history, read_to_end=lambda: False)
    assert parked_ids(app) == {early["event_id"]}

    result = ingest.process([feed(wire("received", "INC-1"))], read_to_end=lambda: True)

    assert (result.unparked, result.dead_lettered) == (1, 0)
    assert kinds(app, "INC-1") == ["Received", "Resolved"]
    assert parked_ids(app) == set()


def test_whether_everything_is_read_is_asked_only_when_something_could_expire(
    app: Incidents, feed: Feed
) -> None:
    asked: list[bool] = []

    def read_to_end() -> bool:
        asked.append(True)
        return True

    ingest = Ingest(app, IngestOptions(orphan_after=timedelta(days=7)))
    ingest.process([feed(wire("received")), feed(wire("resolved", hours=1))], read_to_end)
    ingest.process([feed(wire("rated", "INC-2", hours=2))], read_to_end)  # parked, not old
    assert asked == []

    ingest.process([feed(wire("received", "INC-3", hours=24 * 8))], read_to_end)

    assert asked == [True]
    assert reasons(app) == ["orphan"]


def test_before_expiring_a_parked_event_is_tried_again_against_what_others_stored(
    two_members: tuple[Incidents, Incidents], feed: Feed
) -> None:
    # Two group members share one store: one parked a resolution whose receipt the other
    # stored, on a partition the first never reads.
    first, second = two_members
    options = IngestOptions(orphan_after=timedelta(days=7))
    parking, receiving = Ingest(first, options), Ingest(second, options)
    resolved = wire("resolved", hours=1)
    parking.process([feed(resolved)], read_to_end=lambda: False)
    receiving.process([feed(wire("received")), feed(wire("received", "INC-2", hours=24 * 9))])

    parking.refresh_stream_times()
    result = parking.process([], read_to_end=lambda: True)

    assert (result.unparked, result.dead_lettered, result.applied) == (1, 0, 1)
    assert kinds(first, "INC-1") == ["Received", "Resolved"]


def test_when_idle_a_young_parked_event_is_tried_again_against_what_another_member_stored(
    two_members: tuple[Incidents, Incidents], feed: Feed
) -> None:
    # Far from the orphan time, so not about to expire: only idleness tries it again.
    first, second = two_members
    waiting, receiving = Ingest(first), Ingest(second)
    waiting.process([feed(wire("escalated", hours=1))], read_to_end=lambda: True)
    receiving.process([feed(wire("received"))])

    busy = waiting.process([feed(wire("received", "INC-2", hours=2))], read_to_end=lambda: True)
    idle = waiting.process([], read_to_end=lambda: True)

    assert (busy.unparked, idle.unparked, idle.applied, idle.dead_lettered) == (0, 1, 1, 0)
    assert kinds(first, "INC-1") == ["Received", "Escalated"]
    assert parked_ids(first) == set()


def test_a_fact_refused_on_a_cached_incident_is_decided_again_on_what_another_member_stored(
    two_members: tuple[Incidents, Incidents], feed: Feed
) -> None:
    # The first member stored the receipt (and keeps the incident cached); the second one
    # stored the resolution from a partition the first never reads. The close comes to the
    # first: on its cached incident it is "closed while open", on the store it is valid.
    first, second = two_members
    closing, resolving = Ingest(first), Ingest(second)
    closing.process([feed(wire("received"))])
    resolving.process([feed(wire("resolved", hours=1))])

    result = closing.process([feed(wire("closed", hours=2))])

    assert (result.applied, result.parked, result.dead_lettered) == (1, 0, 0)
    assert kinds(first, "INC-1") == ["Received", "Resolved", "Closed"]
    assert parked_ids(first) == set()


def test_a_parked_event_of_a_cached_incident_is_tried_against_the_store_before_it_expires(
    two_members: tuple[Incidents, Incidents], feed: Feed
) -> None:
    # As above, but the close came first and was parked; the resolution is stored by the
    # other member; before expiring, the close is tried on the store's incident, not the cache.
    first, second = two_members
    options = IngestOptions(orphan_after=timedelta(days=7))
    closing, resolving = Ingest(first, options), Ingest(second, options)
    closing.process([feed(wire("received")), feed(wire("closed", hours=2))], read_to_end=lambda: False)
    assert [p.reason for p in store(first).parked_events()] == ["closed_while_open"]
    resolving.process([feed(wire("resolved", hours=1)), feed(wire("received", "INC-2", hours=24 * 9))])

    closing.refresh_stream_times()
    result = closing.process([], read_to_end=lambda: True)

    assert (result.unparked, result.dead_lettered, result.applied) == (1, 0, 1)
    assert kinds(first, "INC-1") == ["Received", "Resolved", "Closed"]
    assert reasons(first) == []


def test_events_two_members_parked_that_only_apply_together_are_released_together(
    two_members_on_each_store: tuple[Incidents, Incidents], feed: Feed
) -> None:
    # Stored: received, resolved, reopened at 4 h. One member parks a second resolution (at
    # 3 h it follows the first with no reopening), the other the reopening at 2 h (then the
    # one at 4 h follows a reopening with no resolution). Each alone stays refused for ever.
    first, second = two_members_on_each_store
    Ingest(first).process([feed(wire("received")), feed(wire("resolved", hours=1)),
                           feed(wire("reopened", hours=4))])  # fmt: skip
    resolving, reopening = Ingest(first), Ingest(second)
    assert resolving.process([feed(wire("resolved", hours=3))]).parked == 1
    assert reopening.process([feed(wire("reopened", hours=2))]).parked == 1

    idle = resolving.process([], read_to_end=lambda: True)
    late = reopening.process([], read_to_end=lambda: True)

    assert (idle.unparked, idle.applied, late.unparked, late.applied) == (2, 2, 0, 0)
    first.forget_cached()
    incident = first.find("INC-1")
    assert incident is not None
    assert [e.kind for e in incident.timeline] == ["received", "resolved", "reopened", "resolved", "reopened"]
    assert parked_ids(first) == set() and reasons(first) == []


def test_a_parked_event_another_member_released_meanwhile_is_not_also_expired(
    two_members_on_each_store: tuple[Incidents, Incidents], feed: Feed, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both members hold the orphan escalation (the second read it from the store). While the
    # second decides to expire it, the first stores the receipt and releases it: the second's
    # save must fail on the vanished parked row and decide again, not dead-letter a stored event.
    first, second = two_members_on_each_store
    options = IngestOptions(orphan_after=timedelta(days=7))
    releasing = Ingest(first, options)
    releasing.process([feed(wire("escalated", hours=1))], read_to_end=lambda: False)
    expiring = Ingest(second, options)
    assert len(expiring.parked) == 1
    save = second.save_decision
    calls = []

    def released_meanwhile(*args: Any, **kwargs: Any) -> Any:
        if not calls:
            releasing.process([feed(wire("received"))], read_to_end=lambda: False)
        calls.append(1)
        return save(*args, **kwargs)

    monkeypatch.setattr(second, "save_decision", released_meanwhile)
    late = feed(wire("received", "INC-2", hours=24 * 9), partition=1)
    result = expiring.process([late], read_to_end=lambda: True)

    assert len(calls) == 2  # the first save failed, the second decision was saved
    assert (result.dead_lettered, reasons(first)) == (0, [])
    assert kinds(first, "INC-1") == ["Received", "Escalated"] and parked_ids(first) == set()


# --- lifecycle rules: fixable violations wait, final ones are refused -----------------------


def test_a_rating_before_the_resolution_is_parked_until_the_resolution_arrives(
    app: Incidents, feed: Feed
) -> None:
    rated, resolved = wire("rated", hours=5), wire("resolved", hours=4)
    ingest = Ingest(app)
    ingest.process([feed(wire("received"))])
    waiting = ingest.process([feed(rated)])
    assert waiting.parked == 1
    assert [p.reason for p in store(app).parked_events()] == ["rated_before_resolution"]

    result = ingest.process([feed(resolved)])

    assert (result.applied, result.unparked) == (2, 1)
    assert kinds(app, "INC-1") == ["Received", "Resolved", "Rated"]
    assert store(app).parked_events() == []
    assert reasons(app) == []


def test_a_second_receipt_of_an_existing_incident_is_dead_lettered_at_once(
    app: Incidents, feed: Feed
) -> None:
    second = wire("received", hours=1, channel="phone")
    ingest = Ingest(app)
    ingest.process([feed(wire("received"))])

    result = ingest.process([feed(second)])

    assert (result.dead_lettered, result.parked) == (1, 0)
    [letter] = [stored.letter for stored in store(app).dead_letters()]
    assert (letter.reason, letter.event_id, letter.incident_id) == (
        "already_received", second["event_id"], "INC-1",
    )  # fmt: skip
    assert letter.message.value == json.dumps(second).encode()
    assert kinds(app, "INC-1") == ["Received"]
    assert store(app).parked_events() == []


# --- malformed messages ---------------------------------------------------------------------


def _unknown_type() -> bytes:
    return json.dumps({**wire("received", "INC-X"), "type": "incident.teleported"}).encode()


def _oversized() -> bytes:
    return json.dumps(wire("received", "INC-X", summary="x" * 2000)).encode()


@pytest.mark.parametrize(
    ("value", "key", "reason"),
    [
        (b"{not json", b"INC-X", "not_json"),
        (_unknown_type(), b"INC-X", "unknown_type"),
        (_oversized(), b"INC-X", "oversized"),
        (json.dumps(wire("received", "INC-X")).encode(), b"INC-OTHER", "key_mismatch"),
    ],
    ids=["not_json", "unknown_type", "oversized", "key_mismatch"],
)
def test_a_malformed_message_is_dead_lettered_with_its_reason_and_bytes_and_the_rest_applied(
    app: Incidents, feed: Feed, value: bytes, key: bytes, reason: str
) -> None:
    received, resolved = wire("received"), wire("resolved", hours=1)
    bad = feed.raw(value, TOPICS.received, key)
    ingest = Ingest(app, IngestOptions(max_message_bytes=1024))

    result = ingest.process([feed(received), bad, feed(resolved)])

    assert result.reasons == {reason: 1}
    [stored] = store(app).dead_letters()
    assert stored.letter.reason == reason
    assert stored.letter.message == bad
    assert stored.letter.detail
    assert stored_events(app) == [("INC-1", received["event_id"]), ("INC-1", resolved["event_id"])]
    assert store(app).stored_offsets() == {"incidents.received:0": 1, "incidents.resolved:0": 0}


def test_the_dead_letter_books_count_find_publish_and_account_for_what_was_not_stored(
    app: Incidents, feed: Feed
) -> None:
    first_bad, second_bad = feed.raw(b"{not json", TOPICS.received), feed.raw(b"[]", TOPICS.received)
    early = feed(wire("resolved", "INC-2", hours=1))  # parked: INC-2 has no receipt yet
    again = feed(wire("received", hours=1))
    Ingest(app).process([feed(wire("received")), first_bad, second_bad, early, again])
    books = store(app)
    letters = books.dead_letters()

    assert books.open_dead_letter_counts() == {"already_received": 1, "not_an_object": 1, "not_json": 1}
    assert [books.dead_letter(s.id) for s in letters] == letters
    assert books.dead_letter(max(s.id for s in letters) + 1) is None
    assert books.settled_coordinates() == {
        (f"{m.coordinates.topic}:{m.coordinates.partition}", m.coordinates.offset)
        for m in (first_bad, second_bad, early, again)
    }  # fmt: skip
    books.mark_published([letters[0].id, letters[2].id])
    assert [s.id for s in books.dead_letters(unpublished_only=True)] == [letters[1].id]
    assert [s.published for s in books.dead_letters()] == [True, False, True]
    assert [s.letter.reason for s in books.dead_letters(reason="not_json")] == ["not_json"]
    assert len(books.dead_letters(limit=2)) == 2


@pytest.mark.parametrize(
    "customer", [{"phone": "+7 912 345-67-89"}, {"name": "Ivan Petrov"}], ids=["keyed by phone", "by incident"]
)
def test_a_refused_message_naming_a_customer_is_kept_sealed_and_read_back_whole(
    app: Incidents, feed: Feed, customer: dict[str, str]
) -> None:
    refused = feed(wire("received", channel="", customer=customer))  # an empty channel: refused

    Ingest(app).process([refused])

    [stored] = store(app).dead_letters()
    assert (stored.letter.reason, stored.letter.message.value) == ("schema_violation", refused.value)
    with app.recorder.datastore.transaction(commit=False) as c:  # type: ignore[attr-defined]
        c.execute("SELECT payload FROM dead_letters")
        [(payload,)] = c.fetchall()
    assert bytes(payload) != refused.value
    assert next(iter(customer.values())).encode() not in bytes(payload)


# --- restart --------------------------------------------------------------------------------


def test_a_restarted_ingest_resumes_from_the_stored_offsets_and_parked_events(
    tmp_path: Path, feed: Feed
) -> None:
    early = wire("resolved", "INC-2", hours=2)
    first_batch = [feed(wire("received", "INC-1")), feed(early), feed.raw(b"[", TOPICS.resolved)]
    before = open_app(tmp_path / "e.db")
    Ingest(before).process(first_batch, read_to_end=lambda: True)
    before.close()
    after = open_app(tmp_path / "e.db")

    restarted = Ingest(after)

    assert restarted.positions == store(after).stored_offsets()
    assert restarted.positions == {"incidents.received:0": 0, "incidents.resolved:0": 1}
    assert {i: set(ids) for i, ids in restarted.parked.items()} == {"INC-2": {early["event_id"]}}
    assert restarted.parked["INC-2"][early["event_id"]].message == first_batch[1]
    again = restarted.process(first_batch)
    assert (again.redelivered, again.dead_lettered) == (3, 0)
    resumed = restarted.process([feed(wire("received", "INC-2"))])
    assert (resumed.applied, resumed.unparked) == (2, 1)
    assert kinds(after, "INC-2") == ["Received", "Resolved"]
    assert store(after).parked_events() == []
    assert reasons(after) == ["not_json"]
    after.close()


# --- batch boundaries do not matter ---------------------------------------------------------


@cache
def _sequence() -> tuple[Message, ...]:
    """~70 messages: a simulated month whose received topic lags a day behind the others,
    plus duplicates, a redelivery, malformed messages and events that never become valid."""
    events = simulate(SimulationSpec(months=1, seed=2, incidents_per_month=16))
    delay = {"incident.received": timedelta(days=1)}

    def arrival(event: Event) -> datetime:
        at = datetime.fromisoformat(str(event["occurred_at"]))
        return at + delay.get(str(event["type"]), timedelta())

    resolved = {e["incident_id"] for e in events if e["type"] == "incident.resolved"}
    received = [e for e in events if e["type"] == "incident.received"]
    still_open = next(e for e in received if e["incident_id"] not in resolved)
    an_hour_later = datetime.fromisoformat(str(still_open["occurred_at"])) + timedelta(hours=1)
    extras = [
        # A second receipt of an existing incident, later in event time.
        wire("received", str(received[0]["incident_id"]), occurred_at="2025-01-31T12:00:00+03:00"),
        # A rating of an incident that is never resolved.
        wire("rated", str(still_open["incident_id"]), occurred_at=an_hour_later.isoformat()),
        wire("resolved", "INC-NEVER", occurred_at="2025-01-20T10:00:00+03:00"),  # never received
    ]
    ordered = sorted([*events, *extras], key=arrival)
    # (event or raw bytes, topic, key) in delivery order; offsets are numbered afterwards.
    sent: list[tuple[Event | bytes, str, bytes]] = [
        (e, TOPICS.topic_for(str(e["type"])), str(e["incident_id"]).encode()) for e in ordered
    ]
    sent.insert(5, (b"{not json", TOPICS.received, b"INC-X"))
    sent.insert(20, sent[3])  # the same event again, at a new offset
    sent.insert(40, (ordered[12], TOPICS.topic_for(str(ordered[12]["type"])), b"INC-OTHER"))
    feed = Feed()
    messages = [
        feed.raw(value if isinstance(value, bytes) else json.dumps(value).encode(), topic, key)
        for value, topic, key in sent
    ]
    messages.insert(30, messages[10])  # a redelivery of an earlier message, at its offset
    return tuple(messages)


def _outcome_of(batches: Sequence[Sequence[Message]]) -> Outcome:
    with tempfile.TemporaryDirectory() as directory:
        app = open_app(Path(directory) / "e.db")
        ingest = Ingest(app, IngestOptions(orphan_after=timedelta(days=366)))
        for batch in batches:
            ingest.process(batch)
        letters = tuple(
            sorted(
                (c.topic, c.partition, c.offset, stored.letter.reason)
                for stored in store(app).dead_letters()
                for c in [stored.letter.message.coordinates]
            )
        )
        outcome = (frozenset(stored_events(app)), letters, frozenset(parked_ids(app)))
        app.close()
    return outcome


@cache
def _outcome_in_one_batch() -> Outcome:
    return _outcome_of([_sequence()])


def test_the_sequence_of_the_batch_boundary_property_exercises_every_path() -> None:
    events, letters, parked = _outcome_in_one_batch()

    assert 60 <= len(_sequence()) <= 75
    assert {reason for *_, reason in letters} == {"not_json", "key_mismatch", "already_received"}
    assert len(parked) == 2
    assert len(events) > 40


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 64), max_size=12, unique=True))
def test_splitting_a_message_sequence_into_batches_anywhere_stores_the_same_outcome(
    cuts: list[int],
) -> None:
    messages = _sequence()
    bounds = [0, *sorted(c for c in cuts if c < len(messages)), len(messages)]
    batches = [messages[a:b] for a, b in pairwise(bounds)]

    outcome = _outcome_of(batches)

    assert outcome == _outcome_in_one_batch()


def test_which_of_two_receipts_is_kept_does_not_depend_on_batch_boundaries() -> None:
    feed = Feed()
    later, earlier = wire("received", hours=5, channel="phone"), wire("received", channel="email")
    messages = [feed(later), feed(earlier)]

    together = _outcome_of([messages])
    apart = _outcome_of([messages[:1], messages[1:]])

    assert together == apart


# --- what orders facts of one instant is stored with them --------------------------------------


def test_a_stored_event_keeps_its_sequence_and_where_it_arrived(app: Incidents, feed: Feed) -> None:
    received, resolved = wire("received", sequence=4), wire("resolved", hours=1)

    Ingest(app).process([feed(received), feed(resolved, partition=2)])

    first, second = app.history("INC-1")
    assert (first.sequence, first.arrival_stream, first.arrival_position) == (  # type: ignore[attr-defined]
        4, "incidents.received:0", 0,
    )  # fmt: skip
    assert (second.sequence, second.arrival_stream, second.arrival_position) == (  # type: ignore[attr-defined]
        None, "incidents.resolved:2", 0,
    )  # fmt: skip


def test_events_stored_before_sequences_were_kept_read_back_without_one(tmp_path: Path) -> None:
    app, feed = open_app(tmp_path / "e.db"), Feed()
    Ingest(app).process([feed(wire("received")), feed(wire("resolved", hours=1))])
    with app.recorder.datastore.transaction(commit=True) as c:  # type: ignore[attr-defined]
        c.execute("SELECT rowid, state FROM stored_events")
        for rowid, state in c.fetchall():
            old = json.loads(state)
            for name in ("sequence", "arrival_stream", "arrival_position"):
                del old[name]
            old["class_version"] = 2
            c.execute("UPDATE stored_events SET state=? WHERE rowid=?", (json.dumps(old).encode(), rowid))
    app.close()
    reopened = open_app(tmp_path / "e.db")

    result = Ingest(reopened).process([feed(wire("reopened", hours=1, sequence=2))])

    assert (result.applied, result.dead_lettered) == (1, 0)
    assert [e.sequence for e in reopened.history("INC-1")] == [None, None, 2]  # type: ignore[attr-defined]
    incident = reopened.find("INC-1")
    assert incident is not None and incident.status == "open"


def test_resume_then_pause_in_one_minute_without_a_sequence_is_applied_in_either_offset_order(
    tmp_path: Path,
) -> None:
    received, paused, resumed, paused_again = (
        wire("received"), wire("paused", hours=1), wire("resumed", hours=2), wire("paused", hours=2)
    )
    outcomes = []
    for order in ([resumed, paused_again], [paused_again, resumed]):
        app, feed = open_app(tmp_path / f"{len(outcomes)}.db"), Feed()
        ingest = Ingest(app)
        ingest.process([feed(received), feed(paused)])

        result = ingest.process([feed(e) for e in order])

        incident = app.find("INC-1")
        assert incident is not None
        timeline = [(e.kind, e.event_id) for e in incident.timeline]
        outcomes.append((result.applied, result.parked, reasons(app), incident.status, timeline))
        app.close()
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][:4] == (2, 0, [], "paused")
    assert [kind for kind, _ in outcomes[0][4]] == ["received", "paused", "resumed", "paused"]


def test_an_event_parked_and_expired_in_one_batch_counts_as_parked_and_released_once(
    app: Incidents, feed: Feed
) -> None:
    ingest = Ingest(app, IngestOptions(orphan_after=timedelta(days=7)))
    orphan = feed(wire("resolved", "INC-LOST"))
    later = feed(wire("received", "INC-2", hours=24 * 9))

    result = ingest.process([orphan, later], read_to_end=lambda: True)
    again = ingest.process([feed(wire("rated", "INC-3", hours=3))], read_to_end=lambda: False)
    reparked = ingest.process([feed(wire("received", "INC-3", hours=2))], read_to_end=lambda: False)

    assert (result.parked, result.unparked, result.reasons) == (1, 1, {"orphan": 1})
    assert (again.parked, reparked.parked, reparked.unparked) == (1, 0, 0)  # same event, new reason
