"""Retrying dead letters: what now applies is resolved (never deleted); what fails keeps a reason."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from consumers.ingest import Ingest, IngestOptions
from tests.unit.test_ingest import Feed, open_app, stored_events, store, wire


def test_an_orphan_whose_incident_arrived_later_is_applied_and_resolved_on_retry(
    tmp_path: Path,
) -> None:
    app = open_app(tmp_path / "e.db")
    ingest = Ingest(app, IngestOptions(orphan_after=timedelta(hours=1)))
    feed = Feed()
    resolved = wire("resolved", incident_id="INC-9", hours=1)
    later = wire("received", incident_id="INC-2", hours=5)
    ingest.process([feed(resolved), feed(later)], read_to_end=lambda: True)
    orphan = store(app).dead_letters(open_only=True)
    ingest.process([feed(wire("received", incident_id="INC-9", hours=0))], read_to_end=lambda: True)

    updates = ingest.retry(orphan)

    assert [o.letter.reason for o in orphan] == ["orphan"]
    assert [(u.letter_id, u.resolved) for u in updates] == [(orphan[0].id, True)]
    assert ("INC-9", resolved["event_id"]) in stored_events(app)
    assert store(app).dead_letters(open_only=True) == []
    kept = store(app).dead_letters()
    assert [(k.id, k.status, k.attempts) for k in kept] == [(orphan[0].id, "resolved", 1)]


def test_a_letter_that_still_fails_stays_open_with_its_current_reason(tmp_path: Path) -> None:
    app = open_app(tmp_path / "e.db")
    ingest = Ingest(app)
    ingest.process([Feed().raw(b"{not json", "incidents.received")])
    letters = store(app).dead_letters(open_only=True)

    updates = ingest.retry(letters)
    again = ingest.retry(store(app).dead_letters(open_only=True))

    assert [(u.resolved, u.reason) for u in updates + again] == [(False, "not_json")] * 2
    assert [(k.status, k.attempts) for k in store(app).dead_letters()] == [("open", 2)]


def test_retrying_an_event_already_in_the_store_resolves_it_without_a_second_copy(
    tmp_path: Path,
) -> None:
    app = open_app(tmp_path / "e.db")
    ingest = Ingest(app, IngestOptions(orphan_after=timedelta(hours=1)))
    feed = Feed()
    resolved = wire("resolved", incident_id="INC-4", hours=1)
    ingest.process([feed(resolved), feed(wire("received", incident_id="INC-5", hours=5))], read_to_end=lambda: True)
    orphan = store(app).dead_letters(open_only=True)
    received = wire("received", incident_id="INC-4", hours=0)
    ingest.process([feed(received), feed(resolved)], read_to_end=lambda: True)  # republished upstream

    updates = ingest.retry(orphan)

    assert [u.resolved for u in updates] == [True]
    mine = [e for e in stored_events(app) if e[0] == "INC-4"]
    assert mine == [("INC-4", received["event_id"]), ("INC-4", resolved["event_id"])]


def test_a_retry_of_several_letters_judges_each_and_says_why_one_still_fails(tmp_path: Path) -> None:
    app = open_app(tmp_path / "e.db")
    ingest = Ingest(app, IngestOptions(orphan_after=timedelta(hours=1)))
    feed = Feed()
    resolved = wire("resolved", incident_id="INC-9", hours=1)
    ingest.process([feed.raw(b"{not json", "incidents.received"), feed(wire("received")),
                    feed(wire("received", hours=1)), feed(resolved),
                    feed(wire("received", incident_id="INC-2", hours=5))], read_to_end=lambda: True)  # fmt: skip
    letters = store(app).dead_letters(open_only=True)
    ingest.process([feed(wire("received", incident_id="INC-9"))], read_to_end=lambda: True)

    updates = ingest.retry(letters)

    assert [o.letter.reason for o in letters] == ["not_json", "already_received", "orphan"]
    assert [(u.letter_id, u.resolved, u.reason) for u in updates] == [
        (letters[0].id, False, "not_json"), (letters[1].id, False, "already_received"),
        (letters[2].id, True, "orphan"),
    ]  # fmt: skip
    assert updates[1].detail == letters[1].letter.detail == "the incident was already received"
    assert ("INC-9", resolved["event_id"]) in stored_events(app)
