"""One event_id, one body: a re-delivery is a no-op, a different body is an event_id_conflict."""

from __future__ import annotations

import json
from pathlib import Path

from consumers.ingest import Ingest
from consumers.translation import to_fact
from contracts.codec import decode
from domain.incident import Incident
from tests.unit.strategies import CUSTOMER_NAME, CUSTOMER_PHONE
from tests.unit.test_ingest import Feed, TOPICS, kinds, open_app, reasons, store, stored_events, wire


def respelled(event: dict[str, object]) -> bytes:
    """The same event spelled differently: keys reversed, spaces, UTC as Z, nulls written out."""
    event = {**event, "occurred_at": str(event["occurred_at"]).replace("+00:00", "Z")}
    if event["type"] == "incident.resolved":
        event.setdefault("root_cause", None)
    return json.dumps(dict(reversed(list(event.items()))), indent=2).encode()


def test_the_digest_ignores_spelling_but_not_content() -> None:
    event = wire("resolved", hours=1)

    digest = to_fact(decode(json.dumps(event).encode())).digest

    assert to_fact(decode(respelled(event))).digest == digest
    for change in ({"resolution": "refund"}, {"source": "edms"}, {"occurred_at": "2025-03-03T13:00:00+03:00"}):
        assert to_fact(decode(json.dumps({**event, **change}).encode())).digest != digest


def test_a_redelivery_at_a_new_offset_spelled_differently_is_a_duplicate(tmp_path: Path) -> None:
    app, feed = open_app(tmp_path / "e.db"), Feed()
    resolved = wire("resolved", hours=1)
    ingest = Ingest(app)
    ingest.process([feed(wire("received")), feed(resolved)])

    again = ingest.process([feed.raw(respelled(resolved), TOPICS.resolved, b"INC-1")])

    assert (again.duplicates, again.applied, again.dead_lettered) == (1, 0, 0)
    assert kinds(app, "INC-1") == ["Received", "Resolved"]


def test_a_different_body_under_a_recorded_event_id_is_dead_lettered_as_a_conflict(
    tmp_path: Path,
) -> None:
    app, feed = open_app(tmp_path / "e.db"), Feed()
    received = wire("received", summary="first")
    ingest = Ingest(app)
    ingest.process([feed(received)])
    changed = {**received, "summary": f"{CUSTOMER_NAME}, {CUSTOMER_PHONE}"}

    result = ingest.process([feed(changed)])

    assert result.reasons == {"event_id_conflict": 1}
    [letter] = [s.letter for s in store(app).dead_letters()]
    assert (letter.event_id, letter.incident_id) == (received["event_id"], "INC-1")
    assert received["event_id"] in letter.detail and "INC-1" in letter.detail
    assert CUSTOMER_NAME not in letter.detail and CUSTOMER_PHONE not in letter.detail
    [stored] = app.history("INC-1")
    assert isinstance(stored, Incident.Received) and stored.summary == "first"


def test_a_conflict_within_one_batch_keeps_the_first_and_dead_letters_the_second(
    tmp_path: Path,
) -> None:
    app, feed = open_app(tmp_path / "e.db"), Feed()
    resolved = wire("resolved", hours=1)
    other = {**resolved, "resolution": "refund"}

    result = Ingest(app).process([feed(wire("received")), feed(resolved), feed(other), feed(resolved)])

    assert (result.applied, result.duplicates, result.reasons) == (2, 1, {"event_id_conflict": 1})
    [letter] = [s.letter for s in store(app).dead_letters()]
    assert letter.message.coordinates.offset == 1
    assert app.history("INC-1")[1].resolution == "exchange"  # type: ignore[attr-defined]


def test_a_conflict_with_a_parked_event_is_dead_lettered_and_the_parked_one_kept(
    tmp_path: Path,
) -> None:
    app, feed = open_app(tmp_path / "e.db"), Feed()
    escalated = wire("escalated", "INC-7", hours=1)
    ingest = Ingest(app)
    ingest.process([feed(escalated)])

    clash = ingest.process([feed({**escalated, "escalated_to": "supplier"})])
    redelivered = ingest.process([feed(escalated)])
    late = ingest.process([feed(wire("received", "INC-7"))])

    assert clash.reasons == {"event_id_conflict": 1}
    assert (redelivered.duplicates, redelivered.parked, redelivered.dead_lettered) == (1, 0, 0)
    assert (late.applied, late.unparked) == (2, 1)
    assert app.history("INC-7")[1].escalated_to == "tech_support"  # type: ignore[attr-defined]
    assert reasons(app) == ["event_id_conflict"]


def test_a_conflict_with_a_parked_event_in_the_same_batch_is_detected(tmp_path: Path) -> None:
    app, feed = open_app(tmp_path / "e.db"), Feed()
    escalated = wire("escalated", "INC-7", hours=1)

    result = Ingest(app).process([feed(escalated), feed({**escalated, "reason": "other"})])

    assert (result.parked, result.reasons) == (1, {"event_id_conflict": 1})


def test_a_parked_event_delivered_again_stays_parked_and_applies_later(tmp_path: Path) -> None:
    # Found by the hostile fuzz: the re-delivered copy used to unpark the waiting one for good.
    app, feed = open_app(tmp_path / "e.db"), Feed()
    rated = wire("rated", hours=5)
    ingest = Ingest(app)
    ingest.process([feed(wire("received"))], read_to_end=lambda: True)
    ingest.process([feed(rated)], read_to_end=lambda: True)

    again = ingest.process([feed(rated)], read_to_end=lambda: True)
    ingest.process([feed(wire("resolved", hours=4))], read_to_end=lambda: True)

    assert (again.duplicates, again.unparked) == (1, 0)
    assert kinds(app, "INC-1") == ["Received", "Resolved", "Rated"]
    assert store(app).parked_events() == []


def test_a_first_claim_refused_for_good_leaves_the_event_id_free(tmp_path: Path) -> None:
    app, feed = open_app(tmp_path / "e.db"), Feed()
    ingest = Ingest(app)
    ingest.process([feed(wire("received"))])
    second_receipt = wire("received", hours=1)
    fixed = {**wire("resolved", hours=2), "event_id": second_receipt["event_id"]}

    result = ingest.process([feed(second_receipt), feed(fixed)])

    assert result.reasons == {"already_received": 1}
    assert kinds(app, "INC-1") == ["Received", "Resolved"]


def test_retrying_a_conflict_keeps_it_open_with_its_reason(tmp_path: Path) -> None:
    app, feed = open_app(tmp_path / "e.db"), Feed()
    received, escalated = wire("received"), wire("escalated", "INC-7", hours=1)
    ingest = Ingest(app)
    ingest.process([feed(received), feed(escalated)])
    ingest.process([feed({**received, "source": "edms"}), feed({**escalated, "source": "edms"})])
    letters = store(app).dead_letters(open_only=True)

    updates = ingest.retry(letters)

    assert [(u.resolved, u.reason) for u in updates] == [(False, "event_id_conflict")] * 2
    assert [(k.status, k.letter.reason, k.attempts) for k in store(app).dead_letters()] == [
        ("open", "event_id_conflict", 1)
    ] * 2
    assert [p.event_id for p in store(app).parked_events()] == [escalated["event_id"]]


def test_events_stored_before_digests_were_kept_read_back_with_an_unknown_digest(
    tmp_path: Path,
) -> None:
    app, feed = open_app(tmp_path / "e.db"), Feed()
    received = wire("received")
    Ingest(app).process([feed(received)])
    with app.recorder.datastore.transaction(commit=True) as c:  # type: ignore[attr-defined]
        c.execute("SELECT state FROM stored_events")
        [(state,)] = c.fetchall()
        old = {k: v for k, v in json.loads(state).items() if k not in ("digest", "class_version")}
        c.execute("UPDATE stored_events SET state=?", (json.dumps(old).encode(),))
    app.close()
    reopened = open_app(tmp_path / "e.db")

    result = Ingest(reopened).process([feed({**received, "source": "edms"})])

    [event] = reopened.history("INC-1")
    assert event.digest is None  # type: ignore[attr-defined]
    assert (result.duplicates, result.dead_lettered) == (1, 0)
    assert stored_events(reopened) == [("INC-1", received["event_id"])]
