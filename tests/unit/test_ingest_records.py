"""What the ingest step writes beside the events, read back field by field from a real SQLite
file: dead letters, parked events, stream times, letter updates, the ingest ledger, data keys,
and the log lines operators search; and the step's retries when another writer wins a race."""

from __future__ import annotations

import json
import re
import socket
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError
from structlog.testing import capture_logs

from consumers.ingest import ERASED_DETAIL, ERASED_REASON, Ingest, IngestOptions, member_id
from consumers.ingest_recorder import IngestTables
from consumers.personal_data import seal_payload
from consumers.records import Coordinates, Message
from domain.application import Incidents
from tests.unit.test_ingest import T0, TOPICS, Feed, app, feed, open_app, stored_events, store, two_members, wire
from ticketstream import customer_data

__all__ = ["app", "feed"]  # the fixtures of test_ingest


class ExactRow(dict[str, Any]):
    """A row as PostgreSQL's recorder reads it (psycopg's dict_row): its columns by their exact
    names. SQLite's own rows find ``row["REASON"]`` too, which PostgreSQL's never would; by
    position as well, as the library reads some."""

    def __init__(self, cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> None:
        super().__init__(zip([column[0] for column in cursor.description], row, strict=True))
        self.values_in_order = row

    def __getitem__(self, key: Any) -> Any:
        return self.values_in_order[key] if isinstance(key, int) else super().__getitem__(key)


@pytest.fixture(autouse=True)
def exact_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every connection opened in these tests reads rows as PostgreSQL's recorder does."""
    monkeypatch.setattr(sqlite3, "Row", ExactRow)


def _rows(app: Incidents, sql: str) -> list[tuple[Any, ...]]:
    with app.recorder.datastore.transaction(commit=False) as c:  # type: ignore[attr-defined]
        c.execute(sql)
        return [tuple(row.values_in_order) for row in c.fetchall()]


def test_these_tests_read_rows_by_their_exact_column_names(app: Incidents) -> None:
    with app.recorder.datastore.transaction(commit=False) as c:  # type: ignore[attr-defined]
        c.execute("SELECT 7 AS reason")
        [row] = c.fetchall()

    assert (row["reason"], row[0], "REASON" in row) == (7, 7, False)


def _recently(stamp: str) -> bool:
    at = datetime.fromisoformat(stamp)
    return at.tzinfo is not None and abs(datetime.now(UTC) - at) < timedelta(minutes=5)


# --- dead letters and parked events, every field ------------------------------------------


def test_a_contract_refusal_is_stored_with_its_coordinates_key_bytes_reason_and_detail(
    app: Incidents, feed: Feed
) -> None:
    feed.raw(b"skipped", TOPICS.resolved, partition=3)  # offsets 0 and 1 of resolved:3 unseen
    feed.raw(b"skipped", TOPICS.resolved, partition=3)
    bad = feed.raw(b"{not json", TOPICS.resolved, key=b"INC-9", partition=3)
    keyless = feed.raw(b"[]", TOPICS.resolved, key=None, partition=3)

    Ingest(app).process([bad, keyless])

    first, second = store(app).dead_letters()
    assert first.letter.message == Message(Coordinates(TOPICS.resolved, 3, 2), b"INC-9", b"{not json")
    assert second.letter.message == Message(Coordinates(TOPICS.resolved, 3, 3), None, b"[]")
    assert (first.letter.reason, first.letter.event_id, first.letter.incident_id) == ("not_json", None, None)
    assert second.letter.reason == "not_an_object"
    assert first.letter.detail == "invalid JSON: Invalid JSON: key must be a string at line 1 column 2"
    assert (first.letter.stored_value, second.letter.stored_value) == (None, None)
    assert (first.published, first.status, first.attempts) == (False, "open", 0)
    assert _recently(first.recorded_at)
    assert _rows(app, "SELECT source_topic, source_partition, source_offset, message_key, payload, event_id,"
                      " incident_id, published, status, attempts, resolved_at FROM dead_letters ORDER BY id") == [
        (TOPICS.resolved, 3, 2, b"INC-9", b"{not json", None, None, 0, "open", 0, None),
        (TOPICS.resolved, 3, 3, None, b"[]", None, None, 0, "open", 0, None),
    ]  # fmt: skip


def test_a_domain_refusal_is_stored_with_the_event_its_incident_and_the_error_s_words(
    app: Incidents, feed: Feed
) -> None:
    second = wire("received", "INC-4", hours=1, channel="phone")
    ingest = Ingest(app)
    ingest.process([feed(wire("received", "INC-4"))])

    with capture_logs() as logs:
        ingest.process([feed(second)])

    [stored] = store(app).dead_letters()
    assert (stored.letter.reason, stored.letter.event_id, stored.letter.incident_id) == (
        "already_received", second["event_id"], "INC-4",
    )  # fmt: skip
    assert stored.letter.detail == "the incident was already received"
    assert stored.letter.message == Message(Coordinates(TOPICS.received, 0, 1), b"INC-4", json.dumps(second).encode())
    [logged] = [e for e in logs if e["event"] == "message_dead_lettered"]
    assert {k: logged[k] for k in ("topic", "partition", "offset", "reason", "incident_id", "event_id", "log_level")} == {
        "topic": TOPICS.received, "partition": 0, "offset": 1, "reason": "already_received",
        "incident_id": "INC-4", "event_id": second["event_id"], "log_level": "warning",
    }  # fmt: skip


@pytest.fixture
def in_yekaterinburg(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's local time is UTC+05:00 (so local time is never mistaken for UTC)."""
    monkeypatch.setenv("TZ", "Asia/Yekaterinburg")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_parked_event_is_stored_whole_in_utc_logged_and_restored_by_a_new_ingest(
    tmp_path: Path, feed: Feed, in_yekaterinburg: None
) -> None:
    # Seen from Yekaterinburg (+05:00): stored in UTC, so the oldest event time sorts first.
    east = timezone(timedelta(hours=5))
    later = wire("resolved", "INC-2", hours=2)
    earlier = {**wire("escalated", "INC-3", hours=1), "occurred_at": (T0 + timedelta(hours=1)).astimezone(east).isoformat()}
    later_message = feed(later, partition=1)
    earlier_message = feed(earlier, partition=2)
    app = open_app(tmp_path / "e.db")
    with capture_logs() as logs:
        result = Ingest(app).process([later_message, earlier_message])

    assert result.parked == 2
    assert _rows(app, "SELECT event_id, incident_id, occurred_at, source_topic, source_partition, source_offset,"
                      " message_key, reason FROM parked_events ORDER BY occurred_at") == [
        (earlier["event_id"], "INC-3", (T0 + timedelta(hours=1)).isoformat(), TOPICS.escalated, 2, 0, b"INC-3", "not_received"),
        (later["event_id"], "INC-2", (T0 + timedelta(hours=2)).isoformat(), TOPICS.resolved, 1, 0, b"INC-2", "not_received"),
    ]  # fmt: skip
    first, second = store(app).parked_events()
    assert (first.message, second.message) == (earlier_message, later_message)
    assert (first.occurred_at, second.occurred_at) == (T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    assert (first.detail, second.detail) == ("escalated for an incident not received yet",
                                             "resolved for an incident not received yet")
    assert (first.stored_value, second.stored_value) == (None, None)
    parked_logs = [e for e in logs if e["event"] == "event_parked"]
    assert [(e["topic"], e["partition"], e["offset"], e["reason"], e["incident_id"], e["event_id"], e["log_level"])
            for e in parked_logs] == [
        (TOPICS.resolved, 1, 0, "not_received", "INC-2", later["event_id"], "info"),
        (TOPICS.escalated, 2, 0, "not_received", "INC-3", earlier["event_id"], "info"),
    ]  # fmt: skip
    app.close()

    reopened = open_app(tmp_path / "e.db")
    restarted = Ingest(reopened)
    assert restarted.parked == {"INC-2": {later["event_id"]: second}, "INC-3": {earlier["event_id"]: first}}
    assert restarted.stream_times == {
        f"{TOPICS.resolved}:1": T0 + timedelta(hours=2), f"{TOPICS.escalated}:2": T0 + timedelta(hours=1),
    }  # fmt: skip
    reopened.close()


def test_a_parked_event_refused_for_another_reason_is_kept_parked_under_the_new_reason(
    app: Incidents, feed: Feed
) -> None:
    rated = wire("rated", "INC-5", hours=5)
    ingest = Ingest(app)
    first = ingest.process([feed(rated)])
    [before] = store(app).parked_events()

    second = ingest.process([feed(wire("received", "INC-5"))])  # begun, but not resolved yet

    [after] = store(app).parked_events()
    assert (first.parked, second.parked, second.unparked) == (1, 0, 0)
    assert (before.reason, after.reason) == ("not_received", "rated_before_resolution")
    assert (before.detail, after.detail) == ("rated for an incident not received yet", "rated before any resolution")
    assert (after.event_id, after.message) == (before.event_id, before.message)
    assert ingest.parked["INC-5"][rated["event_id"]].reason == "rated_before_resolution"
    third = ingest.process([feed(wire("resolved", "INC-5", hours=4))])
    assert (third.applied, third.unparked, third.parked) == (2, 1, 0)
    assert store(app).parked_events() == [] and ingest.parked == {}


def test_an_expired_event_keeps_its_parked_reason_except_a_missing_receipt_which_is_an_orphan(
    app: Incidents, feed: Feed
) -> None:
    rated = wire("rated", "INC-6", hours=1)
    lost = wire("resolved", "INC-LOST", hours=1)
    ingest = Ingest(app, IngestOptions(orphan_after=timedelta(days=1)))
    ingest.process([feed(wire("received", "INC-6")), feed(rated), feed(lost)])
    parked = {p.event_id: p.detail for p in store(app).parked_events()}

    with capture_logs() as logs:
        result = ingest.process([feed(wire("received", "INC-7", hours=30))], read_to_end=lambda: True)

    assert result.reasons == {"rated_before_resolution": 1, "orphan": 1}
    letters = {s.letter.event_id: s.letter for s in store(app).dead_letters()}
    prefix = ("still parked when every partition was read to its end, older than the newest event time"
              " minus 1 day, 0:00:00: ")  # fmt: skip
    assert letters[rated["event_id"]].reason == "rated_before_resolution"
    assert letters[lost["event_id"]].reason == "orphan"
    assert {e: letter.detail for e, letter in letters.items()} == {e: prefix + d for e, d in parked.items()}
    assert letters[lost["event_id"]].incident_id == "INC-LOST"
    assert [e["event_id"] for e in logs if e["event"] == "message_dead_lettered"] == [rated["event_id"], lost["event_id"]]
    assert store(app).parked_events() == [] and ingest.parked == {}


def test_an_event_exactly_as_old_as_the_orphan_time_does_not_expire(app: Incidents, feed: Feed) -> None:
    ingest = Ingest(app, IngestOptions(orphan_after=timedelta(days=1)))
    ingest.process([feed(wire("resolved", "INC-LOST"))])
    assert not ingest.expirable()

    held = ingest.process([feed(wire("received", "INC-2", hours=24))], read_to_end=lambda: True)

    assert (held.dead_lettered, ingest.expirable()) == (0, False)
    ingest.process([feed(wire("received", "INC-3", hours=24.5))], read_to_end=lambda: False)
    assert ingest.expirable()


def test_an_ingest_with_nothing_seen_has_nothing_to_expire(app: Incidents) -> None:
    ingest = Ingest(app)

    assert ingest.expirable() is False
    assert ingest.process([], read_to_end=lambda: True).dead_lettered == 0


# --- stream times, offsets, counts ---------------------------------------------------------


def test_each_partition_s_stream_time_is_the_newest_event_time_read_from_it_and_is_stored(
    app: Incidents, feed: Feed
) -> None:
    ingest = Ingest(app)
    ingest.process([feed(wire("received", "INC-1", hours=5)), feed(wire("received", "INC-2", hours=2)),
                    feed(wire("received", "INC-3", hours=1), partition=1)])  # fmt: skip
    ingest.process([feed(wire("received", "INC-4", hours=3))])  # older: the time stays

    expected = {f"{TOPICS.received}:0": T0 + timedelta(hours=5), f"{TOPICS.received}:1": T0 + timedelta(hours=1)}
    assert store(app).stream_times() == expected
    assert ingest.stream_times == expected
    ingest.process([feed(wire("received", "INC-5", hours=6), partition=1)])
    assert store(app).stream_times()[f"{TOPICS.received}:1"] == T0 + timedelta(hours=6)


def test_a_batch_counts_each_reason_as_often_as_it_occurs(app: Incidents, feed: Feed) -> None:
    batch = [feed.raw(b"{", TOPICS.received), feed(wire("received")), feed.raw(b"{{", TOPICS.received),
             feed.raw(b"[]", TOPICS.received)]  # fmt: skip

    result = Ingest(app).process(batch)

    assert result.reasons == {"not_json": 2, "not_an_object": 1}
    assert (result.messages, result.applied, result.dead_lettered, result.redelivered) == (4, 1, 3, 0)


def test_only_offsets_after_the_stored_one_are_read_again(app: Incidents, feed: Feed) -> None:
    first = [feed(wire("received", "INC-1")), feed(wire("received", "INC-2"))]
    ingest = Ingest(app)
    ingest.process(first)
    third = feed(wire("received", "INC-3"))

    again = ingest.process([first[1], third])

    assert (again.redelivered, again.applied, again.duplicates) == (1, 1, 0)
    assert ingest.reload() == {f"{TOPICS.received}:0": 2}


# --- the ledger: who stored what ------------------------------------------------------------


def test_every_stored_batch_has_a_ledger_row_naming_its_member_and_its_event_count(
    app: Incidents, feed: Feed
) -> None:
    ingest = Ingest(app, IngestOptions(member="consumer-a"))
    ingest.process([feed(wire("received", "INC-1")), feed(wire("resolved", "INC-1", hours=1))])
    ingest.process([feed.raw(b"{", TOPICS.received)])  # a dead letter, no event
    Ingest(app, IngestOptions(member="consumer-b")).process([feed(wire("received", "INC-2"))])

    assert store(app).ledger() == [(1, "consumer-a", 2), (2, "consumer-a", 0), (3, "consumer-b", 1)]
    [(recorded_at,)] = _rows(app, "SELECT recorded_at FROM ingest_ledger WHERE id=1")
    assert _recently(recorded_at)


def test_a_member_without_a_name_is_its_host_process_and_a_random_suffix(app: Incidents, feed: Feed) -> None:
    named = member_id()

    assert re.fullmatch(rf"{re.escape(socket.gethostname())}:{__import__('os').getpid()}:[0-9a-f]{{6}}", named)
    assert member_id() != named
    ingest = Ingest(app)
    ingest.process([feed(wire("received"))])
    assert [member for _, member, _ in store(app).ledger()] == [ingest.member]
    assert ingest.member.rsplit(":", 1)[0] == named.rsplit(":", 1)[0]


# --- retrying dead letters: the stored update -----------------------------------------------


def test_a_retried_letter_records_its_outcome_attempts_and_when_it_was_resolved(
    app: Incidents, feed: Feed
) -> None:
    ingest = Ingest(app, IngestOptions(orphan_after=timedelta(hours=1)))
    ingest.process([feed.raw(b"{", TOPICS.received), feed(wire("resolved", "INC-9", hours=1)),
                    feed(wire("received", "INC-2", hours=5))], read_to_end=lambda: True)  # fmt: skip
    broken, orphan = store(app).dead_letters()
    ingest.process([feed(wire("received", "INC-9"))])

    updates = ingest.retry([broken, orphan])

    assert [(u.letter_id, u.resolved, u.reason) for u in updates] == [
        (broken.id, False, "not_json"), (orphan.id, True, "orphan"),
    ]  # fmt: skip
    assert updates[1].detail == orphan.letter.detail
    assert updates[0].detail == broken.letter.detail
    rows = _rows(app, "SELECT id, status, reason, detail, attempts, resolved_at FROM dead_letters ORDER BY id")
    assert [r[:5] for r in rows] == [
        (broken.id, "open", "not_json", broken.letter.detail, 1),
        (orphan.id, "resolved", "orphan", orphan.letter.detail, 1),
    ]  # fmt: skip
    assert rows[0][5] is None and _recently(rows[1][5])
    assert store(app).settled_coordinates() == {(f"{TOPICS.received}:0", 0)}
    assert store(app).open_dead_letter_counts() == {"not_json": 1}
    assert [s.id for s in store(app).dead_letters(open_only=True)] == [broken.id]
    assert [s.id for s in store(app).dead_letters(reason="orphan", open_only=True)] == []


def test_a_retried_letter_refused_by_the_domain_says_the_error_s_code_and_words(
    app: Incidents, feed: Feed
) -> None:
    ingest = Ingest(app)
    ingest.process([feed(wire("received")), feed(wire("received", hours=1))])
    [letter] = store(app).dead_letters()

    [update] = ingest.retry([letter])

    assert (update.resolved, update.reason, update.detail) == (False, "already_received", letter.letter.detail)
    [again] = store(app).dead_letters()
    assert (again.status, again.attempts, again.letter.reason) == ("open", 1, "already_received")


# --- a writer that keeps losing the race ------------------------------------------------------


def _losing(app: Incidents, monkeypatch: pytest.MonkeyPatch, times: int) -> list[int]:
    """Make the next ``times`` saves fail as if another writer stored first; count the saves."""
    saves: list[int] = []
    save = app.save_decision

    def racing(*args: Any, **kwargs: Any) -> int:
        saves.append(len(saves) + 1)
        if len(saves) <= times:
            raise IntegrityError("another writer stored these offsets first")
        return save(*args, **kwargs)

    monkeypatch.setattr(app, "save_decision", racing)
    return saves


def test_a_batch_that_loses_the_race_twice_is_read_again_and_stored_on_the_third_try(
    app: Incidents, feed: Feed, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest = Ingest(app)
    saves = _losing(app, monkeypatch, 2)

    with capture_logs() as logs:
        result = ingest.process([feed(wire("received")), feed.raw(b"{", TOPICS.received)])

    assert saves == [1, 2, 3]
    assert (result.applied, result.dead_lettered) == (1, 1)
    assert [(e["attempt"], e["log_level"]) for e in logs if e["event"] == "batch_conflict_retried"] == [
        (1, "warning"), (2, "warning"),
    ]  # fmt: skip
    assert len(stored_events(app)) == 1


def test_a_batch_that_loses_the_race_three_times_fails_having_stored_nothing(
    app: Incidents, feed: Feed, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest = Ingest(app)
    saves = _losing(app, monkeypatch, 3)

    with capture_logs() as logs, pytest.raises(IntegrityError):
        ingest.process([feed(wire("received"))])

    assert saves == [1, 2, 3]
    assert [e["attempt"] for e in logs if e["event"] == "batch_conflict_retried"] == [1, 2, 3]
    assert (stored_events(app), ingest.positions) == ([], {})


# --- the recorder's queries, more than one chunk of 500 -------------------------------------


def test_data_keys_and_aliases_are_found_however_many_are_asked_for(app: Incidents) -> None:
    books: IngestTables = store(app)
    keys = {f"key-{n:04}": n.to_bytes(2, "big") * 16 for n in range(1203)}
    books.rewrite_states([], keys)
    aliases = {f"index-{n:04}": f"key-{n:04}" for n in range(1203)}

    books.replace_aliases({**aliases, "key-0001": "key-0001"}, "fingerprint-1")

    assert books.data_keys([*keys, "key-unknown"]) == keys
    assert books.data_keys(["key-0500"]) == {"key-0500": keys["key-0500"]}
    assert books.data_keys([]) == {}
    assert books.customer_aliases([*aliases, "key-0001"]) == aliases  # a customer under its own key: no alias
    [(when, fingerprint, counted)] = books.secret_rotations()
    assert (fingerprint, counted, _recently(when)) == ("fingerprint-1", 1204, True)
    books.replace_aliases({"index-x": "key-0002"}, "fingerprint-2")
    assert books.customer_aliases(list(aliases)) == {}
    assert [f for _, f, _ in books.secret_rotations()] == ["fingerprint-1", "fingerprint-2"]


def test_the_events_of_more_than_500_incidents_are_read_back_in_version_order(
    app: Incidents, feed: Feed
) -> None:
    ids = [f"INC-{n:04}" for n in range(1002)]
    Ingest(app).process([feed(wire("received", i)) for i in ids] + [feed(wire("resolved", ids[-1], hours=1))])

    found = store(app).select_events_of([*ids, "INC-NONE"])

    assert sorted(found) == ids
    assert [e.originator_version for e in found[ids[-1]]] == [1, 2]
    assert all(len(events) == 1 for i, events in found.items() if i != ids[-1])
    assert found[ids[0]][0].originator_id == ids[0] and found[ids[0]][0].state


def test_every_transaction_of_the_ingest_tables_hands_its_cursor_to_enter(
    app: Incidents, feed: Feed, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL's recorder finds its schema in enter(cursor) (SET LOCAL search_path): every
    # transaction of the shared queries must call it with that transaction's cursor.
    Ingest(app).process([feed(wire("received")), feed.raw(b"{", TOPICS.received)])
    books = store(app)
    seen: list[Any] = []
    monkeypatch.setattr(books, "enter", seen.append)

    [letter] = books.dead_letters()
    books.mark_published([letter.id])
    books.replace_aliases({"index-1": "key-1"}, "fingerprint")
    books.rewrite_states([], {"key-1": b"k" * 32})
    assert books.erase_data_key("key-1") is True
    assert books.erase_data_key("key-1") is False
    assert books.select_events_of(["INC-1"])["INC-1"][0].originator_version == 1

    assert len(seen) == 7 and all(hasattr(c, "execute") for c in seen)
    assert _rows(app, "SELECT key_id, had_key FROM customer_erasures ORDER BY id") == [("key-1", 1), ("key-1", 0)]
    assert books.dead_letters()[0].published is True


def test_a_retry_says_which_letters_can_never_be_read_again_and_judges_the_others(
    app: Incidents, feed: Feed
) -> None:
    secret, anna, boris = b"unit-test secret, thirty-two b..", {"phone": "+7 903 111 22 33"}, {"phone": "+7 903 999 88 77"}
    ingest = Ingest(app, IngestOptions(customer_secret=secret, member="retrier"))
    ingest.process([feed(wire("received", "A-1", customer=anna)),
                    feed(wire("received", "A-2", channel="", customer=anna)),  # refused: sealed under her key
                    feed(wire("received", "B-2", channel="", customer=boris)),
                    feed.raw(b"{", TOPICS.received)])  # fmt: skip
    hers, his, plain = store(app).dead_letters()
    assert hers.letter.stored_value is not None and his.letter.stored_value is not None
    [key] = customer_data.keys_of(app, secret, "+79031112233", None, None, None)
    assert customer_data.erase(app, key) is True
    hers, his, plain = store(app).dead_letters()
    assert (hers.letter.message.value, his.letter.message.value[:1]) == (b"", b"{")

    updates = ingest.retry([hers, his, plain])

    assert [(u.letter_id, u.resolved, u.reason) for u in updates] == [
        (hers.id, False, ERASED_REASON), (his.id, False, "schema_violation"), (plain.id, False, "not_json"),
    ]  # fmt: skip
    assert updates[0].detail == ERASED_DETAIL and updates[1].detail == his.letter.detail
    assert [(s.status, s.attempts, s.letter.reason) for s in store(app).dead_letters()] == [
        ("open", 1, ERASED_REASON), ("open", 1, "schema_violation"), ("open", 1, "not_json"),
    ]  # fmt: skip
    assert store(app).ledger()[-1][1:] == ("retrier", 0)


def test_a_parked_event_accepted_once_is_released_though_the_size_limit_was_lowered_since(
    tmp_path: Path, feed: Feed
) -> None:
    long = wire("escalated", "INC-8", hours=1, reason="r" * 1500)
    app = open_app(tmp_path / "e.db")
    Ingest(app).process([feed(long)])
    app.close()
    reopened = open_app(tmp_path / "e.db")
    strict = Ingest(reopened, IngestOptions(max_message_bytes=1024))

    with capture_logs() as logs:
        result = strict.process([feed(wire("received", "INC-8")), feed(wire("escalated", "INC-9", reason="r" * 1500))])

    assert (result.applied, result.unparked, result.reasons) == (2, 1, {"oversized": 1})
    assert [(e["released"], e["to"]) for e in logs if e["event"] == "parked_events_releasing"] == [
        (1, {f"{TOPICS.received}:0": 0, f"{TOPICS.escalated}:0": 1}),
    ]  # fmt: skip
    assert store(reopened).parked_events() == []
    reopened.close()


def test_the_offset_stored_for_a_partition_is_its_highest_in_the_batch_whatever_the_order(
    app: Incidents,
) -> None:
    def at(offset: int, incident_id: str) -> Message:
        event = wire("received", incident_id)
        return Message(Coordinates(TOPICS.received, 0, offset), incident_id.encode(), json.dumps(event).encode())

    ingest = Ingest(app)
    ingest.process([at(7, "INC-7"), at(3, "INC-3"), at(5, "INC-5")])

    assert store(app).stored_offsets() == {f"{TOPICS.received}:0": 7}
    assert ingest.process([at(6, "INC-6"), at(8, "INC-8")]).redelivered == 1


def test_an_erasure_blocked_by_a_reader_is_checkpointed_ten_times_with_growing_waits_then_left(
    app: Incidents, feed: Feed, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    Ingest(app).process([feed(wire("received"))])
    books = store(app)
    books.rewrite_states([], {"key-1": b"1" * 32, "key-2": b"2" * 32})
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    # Each blocked checkpoint waits a tenth of a second, not the store's 30 s lock timeout.
    reader = sqlite3.connect(tmp_path / "e.db")
    reader.execute("BEGIN")
    reader.execute("SELECT * FROM customer_keys").fetchall()  # another process, reading

    with capture_logs() as logs:
        assert books.erase_data_key("key-1") is True

    assert waits == pytest.approx([0.1 * n for n in range(1, 11)])
    assert [(e["event"], e["reason"], e["log_level"]) for e in logs] == [
        ("erasure_checkpoint_deferred", "another process is reading the store", "warning"),
    ]  # fmt: skip
    with app.recorder.datastore.transaction(commit=False) as c:  # type: ignore[attr-defined]
        c.execute("PRAGMA busy_timeout")
        assert c.fetchone()[0] > 1000  # writers still wait out the store's lock timeout
    reader.rollback()
    reader.close()
    waits.clear()
    with capture_logs() as logs:
        assert books.erase_data_key("key-2") is True
    assert (waits, logs) == ([], [])
    assert books.data_keys(["key-1", "key-2"]) == {}
    rows = _rows(app, "SELECT key_id, erased_at, had_key FROM customer_erasures ORDER BY id")
    assert [(k, had) for k, _, had in rows] == [("key-1", 1), ("key-2", 1)]
    assert all(_recently(erased_at) for _, erased_at, _ in rows)


def test_what_the_ingest_tables_hold_as_stored_bytes_names_each_letter_and_parked_event(
    app: Incidents, feed: Feed
) -> None:
    parked = wire("resolved", "INC-2", hours=1)
    Ingest(app).process([feed.raw(b"{", TOPICS.received), feed(parked), feed.raw(b"[]", TOPICS.received)])
    first, second = store(app).dead_letters()

    assert store(app).stored_payloads() == [
        ("dead_letter", first.id, b"{"), ("dead_letter", second.id, b"[]"),
        ("parked", parked["event_id"], json.dumps(parked).encode()),
    ]  # fmt: skip
    store(app).rewrite_states([], {"key-1": b"1" * 32})
    [(created_at,)] = _rows(app, "SELECT created_at FROM customer_keys")
    assert _recently(created_at)


def test_a_parked_event_stored_sealed_is_read_back_open_and_expires_still_sealed(
    tmp_path: Path, feed: Feed
) -> None:
    early = wire("escalated", "INC-3", hours=1)
    early_message = feed(early)
    app = open_app(tmp_path / "e.db")
    Ingest(app).process([early_message])
    key = b"k" * 32
    sealed = seal_payload("key-1", key, json.dumps(early).encode())
    store(app).rewrite_states([], {"key-1": key}, parked=[(sealed, early["event_id"])])
    app.close()
    app = open_app(tmp_path / "e.db")
    restarted = Ingest(app, IngestOptions(orphan_after=timedelta(hours=1)))
    [waiting] = store(app).parked_events()
    assert (waiting.message, waiting.stored_value) == (early_message, sealed)
    assert restarted.parked["INC-3"][early["event_id"]] == waiting

    restarted.process([feed(wire("received", "INC-4", hours=5))], read_to_end=lambda: True)

    [letter] = store(app).dead_letters()
    assert (letter.letter.reason, letter.letter.message.value, letter.letter.stored_value) == (
        "orphan", json.dumps(early).encode(), sealed,
    )  # fmt: skip
    assert _rows(app, "SELECT payload FROM dead_letters") == [(sealed,)]
    app.close()


def test_a_retried_letter_is_judged_by_the_same_contract_its_key_and_the_configured_size_limit(
    app: Incidents, feed: Feed
) -> None:
    mismatched = feed(wire("received", "INC-1"), key=b"INC-OTHER")
    oversized = feed(wire("received", "INC-2", summary="s" * 1500))
    ingest = Ingest(app, IngestOptions(max_message_bytes=1024))
    ingest.process([mismatched, oversized])
    letters = store(app).dead_letters()
    assert [s.letter.reason for s in letters] == ["key_mismatch", "oversized"]

    updates = ingest.retry(letters)

    assert [(u.resolved, u.reason) for u in updates] == [(False, "key_mismatch"), (False, "oversized")]
    assert stored_events(app) == []


def test_a_released_or_retried_event_is_stored_with_where_it_first_arrived(
    app: Incidents, feed: Feed
) -> None:
    early = feed(wire("escalated", "INC-1", hours=1), partition=2)
    orphan = feed(wire("resolved", "INC-9", hours=1), partition=1)
    ingest = Ingest(app, IngestOptions(orphan_after=timedelta(hours=1)))
    ingest.process([early, orphan, feed(wire("received", "INC-2", hours=5))], read_to_end=lambda: False)
    ingest.process([feed(wire("received", "INC-1"))], read_to_end=lambda: True)
    [letter] = store(app).dead_letters()
    ingest.process([feed(wire("received", "INC-9"))])

    ingest.retry([letter])

    escalated = app.history("INC-1")[1]
    resolved = app.history("INC-9")[1]
    assert (escalated.arrival_stream, escalated.arrival_position) == (f"{TOPICS.escalated}:2", 0)  # type: ignore[attr-defined]
    assert (resolved.arrival_stream, resolved.arrival_position) == (f"{TOPICS.resolved}:1", 0)  # type: ignore[attr-defined]


def test_a_sealed_parked_event_parked_again_for_another_reason_stays_sealed_when_it_expires(
    tmp_path: Path, feed: Feed
) -> None:
    rated = wire("rated", "INC-3", hours=1)
    app = open_app(tmp_path / "e.db")
    Ingest(app).process([feed(rated)])
    key = b"k" * 32
    sealed = seal_payload("key-1", key, json.dumps(rated).encode())
    store(app).rewrite_states([], {"key-1": key}, parked=[(sealed, rated["event_id"])])
    ingest = Ingest(app, IngestOptions(orphan_after=timedelta(hours=2)))

    ingest.process([feed(wire("received", "INC-3"))])  # begun, not resolved: parked again

    [again] = store(app).parked_events()
    assert (again.reason, again.detail, again.stored_value) == (
        "rated_before_resolution", "rated before any resolution", sealed,
    )  # fmt: skip
    assert ingest.parked["INC-3"][rated["event_id"]].stored_value == sealed
    ingest.process([feed(wire("received", "INC-4", hours=5))], read_to_end=lambda: True)
    [letter] = store(app).dead_letters()
    assert (letter.letter.reason, letter.letter.stored_value) == ("rated_before_resolution", sealed)
    assert _rows(app, "SELECT payload FROM dead_letters") == [(sealed,)]
    app.close()


def test_only_a_refusal_on_a_stale_cached_incident_reads_the_batch_s_incidents_again(
    two_members: tuple[Incidents, Incidents], feed: Feed
) -> None:
    first, second = two_members
    closing, resolving = Ingest(first), Ingest(second)
    closing.process([feed(wire("received")), feed(wire("received", "INC-2"))])
    with capture_logs() as fresh:
        refused = closing.process([feed(wire("closed", "INC-2", hours=2))])  # cached, not stale: parked
    resolving.process([feed(wire("resolved", hours=1))])

    with capture_logs() as stale:
        result = closing.process([feed(wire("closed", hours=2))])

    assert (refused.parked, result.applied) == (1, 1)
    assert [e for e in fresh if e["event"] == "stale_incidents_read_again"] == []
    assert [(e["incidents"], e["log_level"]) for e in stale if e["event"] == "stale_incidents_read_again"] == [(1, "info")]


def test_a_parked_event_whose_customer_was_erased_waits_and_the_others_are_still_released(
    app: Incidents, feed: Feed
) -> None:
    erased, other = wire("escalated", "INC-3", hours=1), wire("resolved", "INC-3", hours=2)
    Ingest(app).process([feed(erased), feed(other)])
    key = b"k" * 32
    store(app).rewrite_states([], {"key-1": key}, parked=[(seal_payload("key-1", key, json.dumps(erased).encode()), erased["event_id"])])
    assert store(app).erase_data_key("key-1") is True
    ingest = Ingest(app)

    result = ingest.process([feed(wire("received", "INC-3"))])

    assert (result.applied, result.unparked) == (2, 1)
    assert [p.event_id for p in store(app).parked_events()] == [erased["event_id"]]
    assert [type(e).__name__ for e in app.history("INC-3")] == ["Received", "Resolved"]


def test_a_parked_event_is_tried_again_only_once_older_than_the_orphan_time_and_everything_read(
    two_members: tuple[Incidents, Incidents], feed: Feed
) -> None:
    # The receipt is stored by another member: the waiting event applies when tried again.
    first, second = two_members
    options = IngestOptions(orphan_after=timedelta(days=1))
    waiting, receiving = Ingest(first, options), Ingest(second, options)
    waiting.process([feed(wire("resolved", hours=1))])
    receiving.process([feed(wire("received"))])

    exactly = waiting.process([feed(wire("received", "INC-2", hours=25))], read_to_end=lambda: True)
    unread = waiting.process([feed(wire("received", "INC-3", hours=26))], read_to_end=lambda: False)
    read = waiting.process([], read_to_end=lambda: True)

    assert [(r.unparked, r.dead_lettered) for r in (exactly, unread, read)] == [(0, 0), (0, 0), (1, 0)]
    assert [type(e).__name__ for e in first.history("INC-1")] == ["Received", "Resolved"]


def test_the_dead_letter_list_holds_at_most_1000_letters_unless_asked_for_more(app: Incidents, feed: Feed) -> None:
    Ingest(app).process([feed.raw(b"{", TOPICS.received) for _ in range(1001)])

    assert len(store(app).dead_letters()) == 1000
    assert len(store(app).dead_letters(limit=2000)) == 1001


def test_a_data_key_made_by_a_batch_is_stored_with_when_in_utc(app: Incidents, feed: Feed) -> None:
    Ingest(app, IngestOptions(customer_secret=b"unit-test secret, thirty-two b..")).process(
        [feed(wire("received", customer={"phone": "+7 903 111 22 33"}))])  # fmt: skip

    [(created_at,)] = _rows(app, "SELECT created_at FROM customer_keys")
    assert _recently(created_at)


def test_the_shared_statements_take_each_database_s_placeholder() -> None:
    class PostgresPlaceholders(IngestTables):
        placeholder = "%s"

    statement = "UPDATE dead_letters SET status=?, reason=? WHERE id=?"

    assert PostgresPlaceholders().sql(statement) == "UPDATE dead_letters SET status=%s, reason=%s WHERE id=%s"
    assert IngestTables().sql(statement) == statement
