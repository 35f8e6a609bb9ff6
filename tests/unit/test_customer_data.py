"""Customer data on a real SQLite file (no broker): repeat contacts from the customer key,
whatever the arrival order; erasure leaving no byte of the customer in the file while the
read models stay; the migration of plaintext stored before encryption."""

from __future__ import annotations

import json
import random
import sqlite3
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.errors import SecretMismatch
from consumers.ingest import Ingest, IngestOptions
from consumers.personal_data import ERASED
from domain.incident import Incident
from tests.unit.test_ingest import Feed, open_app, wire
from ticketstream import assembly, customer_data, reports
from ticketstream.settings import load_settings

SECRET = b"unit-test secret, thirty-two b.."
ANNA = {"name": "Анна Łukasiewicz-O'Neil", "phone": "+7 (903) 111-22-33", "email": "Anna.L@Example.com"}
BORIS = {"name": "Boris 李", "phone": "+7 903 999 88 77"}


def _events() -> list[dict[str, object]]:
    return [
        wire("received", "A-1", 0, customer=ANNA, category="delivery"),
        wire("resolved", "A-1", 2),
        wire("received", "A-2", 24 * 3, customer={**ANNA, "phone": "8 903 111 2233"}, category="refund"),
        wire("received", "A-3", 24 * 20, customer={"email": " anna.l@example.COM"}, category="refund"),
        wire("received", "B-1", 24 * 4, customer=BORIS, category="delivery"),
        wire("received", "B-2", 24 * 5, customer=BORIS, category="delivery"),
        wire("reclassified", "B-2", 24 * 5 + 1, category="warranty"),
        wire("received", "N-1", 24 * 5, customer={"name": "Nameless Only"}),
        wire("received", "X-1", 24 * 6),
    ]


def _ingest(path: Path, events: list[dict[str, object]], batch_sizes: list[int] | None = None) -> None:
    """Ingest the events in this order, in batches of these sizes (one batch when None)."""
    app = open_app(path)
    feed = Feed()
    messages = [feed(e) for e in events]
    ingest = Ingest(app, IngestOptions(customer_secret=SECRET, customer_phone_region="RU"))
    for size in batch_sizes or []:
        ingest.process(messages[:size])
        messages = messages[size:]
    if messages:
        ingest.process(messages)
    app.close()


def _repeats(path: Path, within_days: int = 7) -> list[dict[str, object]]:
    app = open_app(path)
    store = load_settings(event_store=str(path))
    assembly.projection_runner(store, app).catch_up()
    app.close()
    side = assembly.read_side(store)
    rows = reports.repeat_contacts(side, "2025-03", "2025-04", None, within_days, datetime.now(timezone.utc)).rows
    return rows


def test_repeat_contacts_come_from_the_customer_key_in_any_arrival_order(tmp_path: Path) -> None:
    events = _events()
    shuffled = events[:]
    random.Random(5).shuffle(shuffled)
    _ingest(tmp_path / "a.db", events)
    _ingest(tmp_path / "b.db", shuffled)

    [week] = _repeats(tmp_path / "a.db")
    assert _repeats(tmp_path / "b.db") == [week]
    # A-2 (3 days after A-1, same phone spelled nationally) and B-2 (a day after B-1) are
    # repeats; A-3 (by e-mail only, so another key) and N-1, X-1 (no key) are not.
    assert (week["contacts"], week["known_customer"], week["repeat_contacts"]) == (7, 5, 2)
    assert week["repeat_share"] == 2 / 5
    assert week["repeat_categories"] == "refund 1, warranty 1"  # B-2's final category
    [month] = _repeats(tmp_path / "a.db", within_days=30)
    assert month["repeat_contacts"] == 2


# The example above, plus a new customer's first two contacts at one instant (raw clients
# stamp wall-clock minutes): which of them is the repeat (the later incident id, C-2, about a
# refund) must not depend on the arrival order.
CARLA = {"name": "Carla Núñez", "phone": "+7 905 123 45 67"}
_SAME_INSTANT = [
    *_events(),
    wire("received", "C-2", 24 * 10, customer={**CARLA, "phone": "8 (905) 123-45-67"}, category="refund"),
    wire("received", "C-1", 24 * 10, customer=CARLA, category="delivery"),
]


def _in_order_repeats() -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory() as tmp:
        _ingest(Path(tmp) / "in-order.db", _SAME_INSTANT)
        return _repeats(Path(tmp) / "in-order.db")


_IN_ORDER: list[list[dict[str, object]]] = []


@settings(max_examples=25, deadline=None)
@given(
    order=st.permutations(range(len(_SAME_INSTANT))),
    twice=st.sets(st.integers(0, len(_SAME_INSTANT) - 1)),
    batch_sizes=st.lists(st.integers(1, 4), max_size=4),
)
def test_repeat_contacts_are_the_same_in_any_order_batching_and_with_duplicates(
    order: list[int], twice: set[int], batch_sizes: list[int]
) -> None:
    """Shuffled (grouped and reversed are permutations too), some messages delivered twice,
    cut into batches (a customer's data key made in one batch, found in the store by the next)."""
    if not _IN_ORDER:
        _IN_ORDER.append(_in_order_repeats())
    expected = _IN_ORDER[0]
    assert (expected[0]["repeat_contacts"], expected[0]["repeat_categories"]) == (3, "refund 2, warranty 1")
    arrival = [_SAME_INSTANT[i] for i in order] + [_SAME_INSTANT[i] for i in sorted(twice)]
    with tempfile.TemporaryDirectory() as tmp:
        _ingest(Path(tmp) / "any.db", arrival, batch_sizes)
        assert _repeats(Path(tmp) / "any.db") == expected


def test_erasure_leaves_no_byte_of_the_customer_in_the_file_and_the_read_models_stay(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    _ingest(path, _events())
    before = _repeats(path)
    with sqlite3.connect(path) as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        models = {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in
                  ("customer_contacts", "incident_summaries", "incident_quality")}  # fmt: skip
        [(anna_key,)] = db.execute("SELECT data_key FROM customer_keys WHERE key_id IN"
                                   " (SELECT customer_key FROM customer_contacts WHERE incident_id='A-1')").fetchall()
    assert {"customer_keys", "customer_erasures"} <= set(tables)
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("e.db*"))
    assert bytes(anna_key) in stored  # the proof below searches where the key was
    app = open_app(path)
    [key] = customer_data.keys_of(app, SECRET, "+79031112233", None, None, "RU")
    assert customer_data.erase(app, key) is True
    shown = {e.originator_id: e for e in app.events_since(0) if isinstance(e[1], Incident.Received) for e in [e[1]]}
    app.close()

    erased = b"".join(p.read_bytes() for p in tmp_path.glob("e.db*"))
    for needle in ("Анна", "Łukasiewicz", "9031112233", "111-22-33", "anna.l@example.com", "Anna.L", "Boris 李", "Nameless"):
        assert needle.encode() not in stored and needle.encode() not in erased, needle
    assert bytes(anna_key) not in erased
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT key_id, had_key FROM customer_erasures").fetchall() == [(key, 1)]
        after = {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in models}
    assert after == models and _repeats(path) == before
    # Her data reads [erased]; Boris's is still there (his own key).
    assert shown["A-1"].customer_key == key and shown["A-2"].customer_key == key
    app = open_app(path)
    keys = assembly.ingest_recorder(app).data_keys({k for e in shown.values() for k in customer_data.data_key_ids(e)})
    assert customer_data.opened(shown["A-1"], keys)["customer_name"] == ERASED
    assert customer_data.opened(shown["B-1"], keys)["customer_name"] == BORIS["name"]
    assert customer_data.opened(shown["A-3"], keys)["customer_email"] == " anna.l@example.COM"  # another key
    # By her e-mail too: its own key and the phone's, found through her sealed e-mail.
    assert customer_data.keys_of(app, SECRET, None, "ANNA.L@example.com ", None, "RU") == [shown["A-3"].customer_key]
    app.close()


def test_plaintext_stored_before_encryption_reads_and_is_sealed_by_encrypt_existing(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    _ingest(path, _events()[:2])
    # Make the receipt what an older version stored: class version 3, plaintext, no key.
    app = open_app(path)
    [received] = [e for _, e in app.events_since(0) if isinstance(e, Incident.Received)]
    app.close()
    legacy = (
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2025-03-03T09:00:00+00:00"},'
        b'"event_id":"' + received.event_id.encode() + b'","occurred_at":"' + received.occurred_at.encode() + b'",'
        b'"source":"store-014","digest":null,"sequence":null,"arrival_stream":null,"arrival_position":null,'
        b'"originator_topic":"domain.incident:Incident","channel":"email","department":"retail_store",'
        b'"category":"delivery","reported_at":null,"store":null,"priority":"normal",'
        b'"customer_name":"Legacy Plainname","customer_phone":"+7 903 111-22-33","customer_email":null,'
        b'"summary":null,"class_version":3}'
    )  # fmt: skip
    with sqlite3.connect(path) as db:
        db.execute("UPDATE stored_events SET state=? WHERE originator_id='A-1' AND originator_version=1", (legacy,))
    app = open_app(path)
    [old] = [e for e in app.history("A-1") if isinstance(e, Incident.Received)]
    assert (old.customer_key, old.customer_name) == (None, "Legacy Plainname")  # upcast, readable
    assert b"Legacy Plainname" in path.read_bytes() + (tmp_path / "e.db-wal").read_bytes()

    assert customer_data.encrypt_existing(app, SECRET, "RU") == customer_data.Encrypted(1, 0, 0)
    assert customer_data.encrypt_existing(app, SECRET, "RU").nothing  # done once
    [sealed] = [e for e in app.history("A-1") if isinstance(e, Incident.Received)]
    keys = assembly.ingest_recorder(app).data_keys(customer_data.data_key_ids(sealed))
    assert [sealed.customer_key] == customer_data.keys_of(app, SECRET, "8 903 111 22 33", None, None, "RU")
    assert customer_data.opened(sealed, keys)["customer_name"] == "Legacy Plainname"
    app.close()
    assert b"Legacy Plainname" not in b"".join(p.read_bytes() for p in tmp_path.glob("e.db*"))


def test_the_secret_file_is_made_once_owner_only_and_a_bad_request_is_one_line(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "TICKETSTREAM_EVENT_STORE": str(tmp_path / "e.db"), "TICKETSTREAM_STATE_DIR": str(tmp_path / "var")}
    env.pop("TICKETSTREAM_CUSTOMER_KEY_SECRET", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ticketstream", "customer", *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    erased = run("erase", "--phone", "+7 903 111 22 33")
    secret = tmp_path / "var" / "customer_key.secret"
    assert erased.returncode == 0 and "no data key held" in erased.stdout
    assert secret.stat().st_mode & 0o777 == 0o600 and len(secret.read_text().strip()) == 64
    first = secret.read_text()
    again = run("erase", "--phone", "8 903 111-22-33")
    assert secret.read_text() == first and erased.stdout.split(":")[0] != again.stdout.split(":")[0]  # no region: another key
    refused = run("erase", "--phone", "12")
    assert refused.returncode != 0 and refused.stderr.strip().count("\n") == 0 and "Traceback" not in refused.stderr
    both = run("export", "--key", "cabc", "--phone", "+79031112233", "-o", str(tmp_path / "x.json"))
    assert both.returncode != 0 and "Traceback" not in both.stderr


NEW_SECRET = b"the rotated secret, also 32 b..."
DORA = {"name": "Dora Ötztal", "email": "Dora@Example.org"}


def _feed_batches(path: Path, secret: bytes, batches: list[list[dict[str, object]]], feed: Feed) -> None:
    """Ingest these batches of wire events (valid or not) with ``secret``."""
    app = open_app(path)
    ingest = Ingest(app, IngestOptions(customer_secret=secret, customer_phone_region="RU"))
    for batch in batches:
        ingest.process([feed(e) for e in batch])
    app.close()


def _table(path: Path, statement: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return sorted(db.execute(statement).fetchall(), key=repr)


def test_a_rotated_secret_keeps_every_readable_customer_s_key_and_the_old_one_is_never_needed(tmp_path: Path) -> None:
    path, feed = tmp_path / "r.db", Feed()
    dora_refused = {**wire("received", "D-1", 24, customer=DORA), "channel": ""}  # known only as a dead letter
    _feed_batches(path, SECRET, [_events()[:6], [*_events()[6:], dora_refused]], feed)
    app = open_app(path)
    [boris] = customer_data.keys_of(app, SECRET, BORIS["phone"], None, None, "RU")
    customer_data.erase(app, boris)  # erased before the rotation: nothing to read him by
    app.close()
    events_before = _table(path, "SELECT originator_id, originator_version, state FROM stored_events")
    before = _repeats(path)

    app = open_app(path)
    rotated = customer_data.rotate_secret(app, NEW_SECRET, "RU")
    app.close()
    # Anna by phone and by e-mail; N-1 by name only; Dora in her dead letter.
    assert (rotated.customers, rotated.incidents, rotated.messages) == (2, 1, 1)
    assert rotated.fingerprint == customer_data.secret_fingerprint(NEW_SECRET) != customer_data.secret_fingerprint(SECRET)
    assert _table(path, "SELECT originator_id, originator_version, state FROM stored_events") == events_before
    assert _repeats(path) == before  # nothing stored changed: every read model the same

    # The old secret is refused from now on: its keys would make every customer a new one.
    app = open_app(path)
    with pytest.raises(SecretMismatch, match="not the one this store was rotated to"):
        Ingest(app, IngestOptions(customer_secret=SECRET))
    with pytest.raises(SecretMismatch):
        customer_data.keys_of(app, SECRET, ANNA["phone"], None, None, "RU")
    app.close()
    # From now on only the new secret is known.
    old_keys = {e.originator_id: e.customer_key for e in _receipts(path)}
    anna_again = wire("received", "A-4", 24 * 21, customer={"name": "Anna", "phone": "8(903)111-22-33"}, category="refund")
    boris_again = wire("received", "B-3", 24 * 6, customer=BORIS, category="delivery")
    _feed_batches(path, NEW_SECRET, [[anna_again, boris_again, {**dora_refused, "channel": "web"}]], feed)
    new_keys = {e.originator_id: e.customer_key for e in _receipts(path)}
    assert new_keys["A-4"] == old_keys["A-1"] == old_keys["A-2"]  # the same person, the same key
    assert new_keys["B-3"] not in (None, old_keys["B-1"])  # erased: his old key links to nothing
    assert new_keys["D-1"] == customer_data.keys_of(open_app(path), NEW_SECRET, None, DORA["email"], None)[0]
    # A-4 comes back 18 days after A-2 (A-3, a day before, has her e-mail's key): a repeat
    # within 30 days, not within 7; B-3 is no repeat. A-2 and B-2 were, and stay.
    assert [before[0]["repeat_contacts"], _repeats(path)[0]["repeat_contacts"]] == [2, 2]
    assert _repeats(path, within_days=30)[0]["repeat_contacts"] == 3

    # Erase by phone and by e-mail under the new secret: the keys from before the rotation.
    app = open_app(path)
    [anna] = customer_data.keys_of(app, NEW_SECRET, "+7 903 111 22 33", None, None, "RU")
    [dora] = customer_data.keys_of(app, NEW_SECRET, None, "dora@example.ORG", None, "RU")
    assert anna == old_keys["A-1"] and dora == new_keys["D-1"]
    assert customer_data.erase(app, anna) and customer_data.erase(app, dora)
    letters = assembly.ingest_recorder(app).dead_letters()
    app.close()
    assert [s.letter.message.value for s in letters if s.letter.incident_id in (None, "D-1")] == [b""]  # erased
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("r.db*"))
    for needle in ("Ötztal", "Dora@", "9031112233", "111-22-33", "Łukasiewicz"):
        assert needle.encode() not in stored and json.dumps(needle)[1:-1].encode() not in stored, needle
    receipts = {e.originator_id: e for e in _receipts(path)}
    app = open_app(path)
    keys = assembly.ingest_recorder(app).data_keys({k for e in receipts.values() for k in customer_data.data_key_ids(e)})
    app.close()
    assert customer_data.opened(receipts["A-4"], keys)["customer_name"] == ERASED
    assert customer_data.opened(receipts["N-1"], keys)["customer_name"] == "Nameless Only"


def _receipts(path: Path) -> list[Incident.Received]:
    app = open_app(path)
    found = [e for _, e in app.events_since(0) if isinstance(e, Incident.Received)]
    app.close()
    return found


def test_rotate_secret_replaces_the_secret_file_and_a_configured_secret_needs_the_new_one_given(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    path, var = tmp_path / "e.db", tmp_path / "var"
    var.mkdir()
    (var / "customer_key.secret").write_text(SECRET.decode() + "\n")
    _ingest(path, _events())
    env = {**os.environ, "TICKETSTREAM_EVENT_STORE": str(path), "TICKETSTREAM_STATE_DIR": str(var),
           "TICKETSTREAM_CUSTOMER_PHONE_REGION": "RU"}  # fmt: skip
    env.pop("TICKETSTREAM_CUSTOMER_KEY_SECRET", None)

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ticketstream", "customer", "rotate-secret", *args],
                              env={**env, **extra}, cwd=tmp_path, capture_output=True, text=True, timeout=60)  # fmt: skip

    def anna(secret: bytes) -> list[str]:
        app = open_app(path)
        try:
            return customer_data.keys_of(app, secret, "+7 903 111 22 33", None, None, "RU")
        finally:
            app.close()

    [key] = anna(SECRET)
    for _ in range(2):  # rotated twice: the second time from the first rotation's aliases
        rotated = run()
        secret = (var / "customer_key.secret").read_bytes().strip()
        assert rotated.returncode == 0 and f"fingerprint {customer_data.secret_fingerprint(secret)}" in rotated.stdout
        assert "indexed 3 customers, 1 name-only customers" in rotated.stdout  # Anna twice (phone, e-mail), Boris
        assert secret != SECRET and (var / "customer_key.secret").stat().st_mode & 0o777 == 0o600
        assert not (var / "customer_key.secret.new").exists() and anna(secret) == [key]
    configured = {"TICKETSTREAM_CUSTOMER_KEY_SECRET": secret.decode()}
    refused = run(**configured)
    assert refused.returncode != 0 and "--new-secret-file" in refused.stderr and refused.stderr.strip().count("\n") == 0
    (tmp_path / "same").write_bytes(secret)
    assert "nothing to rotate" in run("--new-secret-file", str(tmp_path / "same"), **configured).stderr
    (tmp_path / "next").write_text("a configured secret of the operator's own\n")
    given = run("--new-secret-file", str(tmp_path / "next"), **configured)
    assert given.returncode == 0 and "set it to the new secret" in given.stdout
    assert (var / "customer_key.secret").read_bytes().strip() == secret  # not ours to change
    assert anna(b"a configured secret of the operator's own") == [key]


def test_a_batch_looks_its_data_keys_up_once_however_many_messages_it_refuses(tmp_path: Path) -> None:
    app = open_app(tmp_path / "b.db")
    ingest = Ingest(app, IngestOptions(customer_secret=SECRET, customer_phone_region="RU"))
    recorder = assembly.ingest_recorder(app)
    asked: list[tuple[str, int]] = []
    for name in ("data_keys", "customer_aliases"):
        method = getattr(recorder, name)
        setattr(recorder, name, lambda ids, m=method, n=name: asked.append((n, len(ids))) or m(ids))
    feed = Feed()
    refused = [{**wire("received", f"R-{i}", i, customer={"name": f"P{i}", "phone": f"+7 903 000-00-0{i}"}), "channel": ""}
               for i in range(4)]  # fmt: skip
    again = wire("received", "A-1", 1, customer=ANNA)  # the domain refuses it: A-1 has its receipt
    batch = [*_events()[:3], *refused, again, wire("received", "Z-9", 1)]
    result = ingest.process([feed(e) for e in batch])
    assert result.reasons == {"schema_violation": 4, "already_received": 1}
    # Four refused customers and Anna (A-1, A-2 and the refused A-1 again, by phone), no one
    # for Z-9: the store is asked once for the batch's aliases, once for its data keys.
    assert asked == [("customer_aliases", 5), ("data_keys", 5)]
    letters = recorder.dead_letters()
    app.close()
    sealed = [s.letter.stored_value for s in letters]
    assert len(sealed) == 5 and all(v is not None and v.startswith(b"\x00ts-sealed1\x00") for v in sealed)
    assert [s.letter.message.value for s in letters] == [json.dumps(e).encode() for e in (*refused, again)]
