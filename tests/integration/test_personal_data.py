"""Personal data end to end through the real broker: sealed at ingest, never logged, never in
an API response; after `customer erase` no byte of it is left in the store (SQLite file and
its WAL; `pg_dump` of the PostgreSQL schema) nor in any log, while every report is unchanged."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import urllib.request
from datetime import date
from pathlib import Path
from uuid import uuid4

import psycopg
from kafka import KafkaConsumer, TopicPartition

from producers.simulator import SimulationSpec, simulate, write_jsonl
from tests.integration.conftest import Cli
from tests.integration.test_pipeline import _send_raw
from tests.integration.serve_process import serving
from ticketstream import assembly
from ticketstream.event_store import connection_info
from ticketstream.settings import load_settings

NAME, PHONE, EMAIL = "Zoë Ñandú-Prokhorova", "+7 912 555-01-02", "Zoe.Nandu@Example.ORG"
# What a byte search looks for: the name and its parts, the phone's digits, the e-mail.
NEEDLES = ["Zoë Ñandú", "Prokhorova", "9125550102", "555-01-02", "zoe.nandu@example.org", "Zoe.Nandu"]
NEEDLES += [json.dumps(n)[1:-1] for n in NEEDLES if not n.isascii()]  # as JSON escapes them
REPORTS = [
    ("channels",), ("dynamics",), ("thanks",), ("sla",), ("quality", "--as-of", "2025-06-01T00:00"),
    ("repeat-contacts",), ("repeat-contacts", "--within-days", "30"),
]


def _received(incident_id: str, day: int, phone: str, category: str, **extra: object) -> dict[str, object]:
    return {
        "event_id": str(uuid4()), "type": "incident.received", "schema_version": 1,
        "incident_id": incident_id, "occurred_at": f"2025-03-{day:02d}T10:00:00+03:00",
        "source": "store-014", "channel": "phone", "department": "retail_store", "category": category,
        "customer": {"name": NAME, "phone": phone, "email": EMAIL}, **extra,
    }  # fmt: skip


def _reports(cli: Cli) -> dict[str, object]:
    return {" ".join(r): json.loads(cli("report", *r, "--from", "2025-03", "--to", "2025-03", "--format", "json").stdout)
            for r in REPORTS}  # fmt: skip


def _store_bytes(cli: Cli, tmp_path: Path) -> bytes:
    """Every byte the store keeps: the SQLite file with its WAL, or a pg_dump of the schema."""
    store = cli.env["TICKETSTREAM_EVENT_STORE"]
    if not store.startswith("postgresql"):
        return b"".join(p.read_bytes() for p in tmp_path.glob("events.db*"))
    conninfo, schema = connection_info(store)
    dump = subprocess.run(["pg_dump", "--schema", schema, conninfo], capture_output=True, check=True)
    # COPY spells a bytea (events' state, letters' payloads, data keys) in hex: searched decoded too.
    hexes = re.findall(rb"\\\\x([0-9a-f]+)", dump.stdout)
    assert hexes, "the dump holds no bytea: nothing was searched"
    return dump.stdout + b"\n".join(bytes.fromhex(h.decode()) for h in hexes)


def _data_keys(cli: Cli) -> list[bytes]:
    store = cli.env["TICKETSTREAM_EVENT_STORE"]
    if not store.startswith("postgresql"):
        with sqlite3.connect(store) as db:
            return [bytes(k) for (k,) in db.execute("SELECT data_key FROM customer_keys")]
    conninfo, schema = connection_info(store)
    with psycopg.connect(conninfo) as db:
        return [bytes(k) for (k,) in db.execute(f'SELECT data_key FROM "{schema}".customer_keys')]


def _dead_letter_topic_values(cli: Cli) -> bytes:
    consumer = KafkaConsumer(bootstrap_servers=cli.bootstrap, auto_offset_reset="earliest")
    consumer.assign([TopicPartition(cli.topics.dlq, p) for p in consumer.partitions_for_topic(cli.topics.dlq)])
    consumer.seek_to_beginning()
    values: list[bytes] = []
    for _ in range(20):
        for records in consumer.poll(timeout_ms=500).values():
            values += [r.value for r in records]
        if values:
            break
    consumer.close()
    return b"".join(values)


def _serve_answers(cli: Cli, paths: list[str]) -> tuple[str, str]:
    answers = []
    with serving(cli) as (base, server):
        for path in paths:
            with urllib.request.urlopen(f"{base}{path}", timeout=10) as answer:
                answers.append(answer.read().decode())
    assert server.stderr is not None
    return "\n".join(answers), server.stderr.read()


def test_an_erased_customer_leaves_no_byte_in_store_or_logs_and_every_report_stays(
    any_store_cli: Cli, tmp_path: Path
) -> None:
    cli = any_store_cli
    events = simulate(SimulationSpec(months=1, seed=23, start=date(2025, 3, 1), incidents_per_month=60))
    ours = [
        _received("ZOE-1", 3, PHONE, "product_quality"),
        _received("ZOE-2", 6, "8 (912) 555 01 02", "delivery"),  # a national spelling, 3 days later
        _received("ZOE-3", 25, "+79125550102", "delivery"),  # 19 days later
    ]
    path = tmp_path / "march.jsonl"
    with path.open("w") as stream:
        write_jsonl([*events, *ours], stream)
    cli.env["TICKETSTREAM_CUSTOMER_PHONE_REGION"] = "RU"
    logs = [cli("publish", str(path))]
    # The contract refuses it (an empty channel): a dead letter carrying her data.
    refused = {**_received("ZOE-4", 7, PHONE, "delivery"), "channel": ""}
    _send_raw(cli, [("received", b"ZOE-4", json.dumps(refused).encode())])
    logs += [cli("consume", "--once"), cli("project", "--once"), cli("dlq", "list", "--format", "json")]
    letters = json.loads(logs[-1].stdout)
    assert [letter["reason"] for letter in letters] == ["schema_violation"]
    forwarded = _dead_letter_topic_values(cli)
    before = _reports(cli)
    repeats = {r["department"]: r for r in before["repeat-contacts"]}  # type: ignore[attr-defined]
    assert repeats["retail_store"]["repeat_contacts"] >= 1  # ZOE-2, 3 days after ZOE-1
    exported = tmp_path / "zoe.json"
    logs.append(cli("customer", "export", "--email", " zoe.nandu@EXAMPLE.org", "-o", str(exported)))
    held = json.loads(exported.read_text())
    assert sorted(i["incident_id"] for i in held["incidents"]) == ["ZOE-1", "ZOE-2", "ZOE-3"]
    api, serve_log = _serve_answers(cli, [
        "/api/v1/incidents/ZOE-1", "/api/v1/reports/repeat-contacts?from=2025-03&to=2025-03",
        "/api/v1/reports/quality?from=2025-03&to=2025-03", "/api/v1/dead-letters",
    ])  # fmt: skip
    stored_before = _store_bytes(cli, tmp_path)
    keys_before = _data_keys(cli)

    logs.append(cli("customer", "erase", "--phone", "+7 (912) 555-01-02"))
    logs.append(cli("project", "--once"))
    after = _reports(cli)
    logs.append(cli("projections", "rebuild", "--all"))
    rebuilt = _reports(cli)
    shown = cli("incident", "show", "ZOE-1").stdout
    gone = tmp_path / "gone.json"
    cli("customer", "export", "--phone", PHONE, "-o", str(gone))
    stored_after = _store_bytes(cli, tmp_path)
    keys_after = _data_keys(cli)

    # The proof reached its path: her data was held, readable, and the key by phone found it.
    by_phone = json.loads(gone.read_text())
    assert by_phone["customer_keys"][0] in held["customer_keys"]
    opened = [e for i in held["incidents"] for e in i["events"] if e.get("customer_name")]
    assert {e["customer_name"] for e in opened} == {NAME} and len(opened) == 3
    assert held["dead_letters"] and "Prokhorova" in held["dead_letters"][0]["message"]
    assert {e["customer_name"] for i in by_phone["incidents"] for e in i["events"] if "customer_name" in e} == {"[erased]"}
    assert "customer_name=[erased]" in shown
    # Stored only sealed, before and after; the data key itself is gone from every byte.
    assert forwarded  # the dead letter reached the dead-letter topic, sealed
    for needle in NEEDLES:
        assert needle.encode() not in forwarded, needle
        assert needle.encode() not in stored_before, needle
        assert needle.encode() not in stored_after, needle
    lost = [k for k in keys_before if k not in keys_after]
    assert len(lost) == 1 and len(keys_after) == len(keys_before) - 1
    # As stored: raw bytes in the SQLite file, hex digits in pg_dump's COPY of a bytea.
    spelled = lost[0].hex().encode() if cli.env["TICKETSTREAM_EVENT_STORE"].startswith("postgresql") else lost[0]
    assert spelled in stored_before and spelled not in stored_after
    # Every report equal, projected on and rebuilt from scratch.
    assert after == before and rebuilt == before
    # No log and no API answer ever carried her data (nor anyone's: the simulated customers').
    logged = "\n".join([r.stderr for r in logs] + [serve_log])
    others = [e["customer"] for e in events if e.get("customer")]  # type: ignore[misc]
    assert others
    for text in (logged, api, "\n".join(r.stdout for r in logs if "dlq" not in r.args)):
        for needle in NEEDLES + [str(v) for c in others[:50] for v in c.values()]:  # type: ignore[attr-defined]
            assert needle not in text, needle
    assert "customer_erased" in logged


OLGA = {"name": "Ольга Ромашкина", "phone": "+7 915 700-80-90", "email": "olga.r@example.net"}


def _downgraded(cli: Cli, plain: dict[str, dict[str, str]]) -> None:
    """Make the store what a version before encryption wrote: these incidents' receipts of
    class version 3, personal data in plaintext, no customer key; every dead letter's bytes
    as they came; no data keys at all."""
    app = assembly.open_incidents(load_settings(event_store=cli.env["TICKETSTREAM_EVENT_STORE"]))
    recorder = assembly.ingest_recorder(app)
    states = []
    for incident_id, stored in recorder.select_events_of(sorted(plain)).items():
        first = json.loads(stored[0].state)
        assert first["customer_name"].startswith("enc1:") and first["class_version"] == 4
        first.pop("customer_key")
        customer = plain[incident_id]
        first.update(class_version=3, customer_name=customer["name"], customer_phone=customer["phone"],
                     customer_email=customer.get("email"))  # fmt: skip
        states.append((json.dumps(first).encode(), incident_id, stored[0].originator_version))
    letters = [(s.letter.message.value, s.id) for s in recorder.dead_letters()]
    assert all(s.letter.stored_value is not None for s in recorder.dead_letters())  # sealed now
    recorder.rewrite_states(states, {}, letters)
    with recorder.datastore.transaction(commit=True) as c:
        recorder.enter(c)
        c.execute("DELETE FROM customer_keys")
    app.close()


def test_encrypt_existing_seals_old_plaintext_dead_letters_so_erase_covers_them(
    any_store_cli: Cli, tmp_path: Path
) -> None:
    cli = any_store_cli
    cli.env["TICKETSTREAM_CUSTOMER_PHONE_REGION"] = "RU"
    zoe_1, zoe_2 = _received("ZOE-1", 3, PHONE, "delivery"), _received("ZOE-2", 6, "8 912 555 01 02", "refund")
    olga = {**_received("OLGA-1", 4, "", "delivery"), "customer": OLGA}
    refused = {**_received("ZOE-4", 7, PHONE, "delivery"), "channel": ""}  # the contract refuses it
    clash = {**zoe_1, "category": "warranty"}  # ZOE-1's event id, another body: the domain refuses it
    _send_raw(cli, [("received", str(e["incident_id"]).encode(), json.dumps(e).encode())
                    for e in (zoe_1, zoe_2, olga, refused, clash)])  # fmt: skip
    cli("consume", "--once")
    zoe = {"name": NAME, "phone": PHONE, "email": EMAIL}
    _downgraded(cli, {"ZOE-1": zoe, "ZOE-2": {**zoe, "phone": "8 912 555 01 02"}, "OLGA-1": OLGA})
    letters = json.loads(cli("dlq", "list", "--format", "json").stdout)
    assert sorted(letter["reason"] for letter in letters) == ["event_id_conflict", "schema_violation"]
    old = _store_bytes(cli, tmp_path)
    assert all(n.encode() in old for n in ("Prokhorova", "555-01-02", "Zoe.Nandu"))  # plaintext, as old versions stored it
    assert json.dumps("Ромашкина")[1:-1].encode() in old or "Ромашкина".encode() in old

    sealed = cli("customer", "encrypt-existing")
    assert "sealed the personal data of 3 stored events, 2 dead letters and 0 parked events" in sealed.stdout
    again = cli("customer", "encrypt-existing")
    assert "nothing to seal" in again.stdout and "sealed the personal data" not in again.stdout
    stored = _store_bytes(cli, tmp_path)
    for needle in NEEDLES + ["Ромашкина", json.dumps("Ромашкина")[1:-1], "9157008090", "olga.r@example.net"]:
        assert needle.encode() not in stored, needle
    cli("projections", "rebuild", "--all")
    repeats = json.loads(cli("report", "repeat-contacts", "--from", "2025-03", "--to", "2025-03", "--format", "json").stdout)
    assert sum(r["repeat_contacts"] for r in repeats) == 1  # ZOE-2, now keyed like ZOE-1
    shown = {letter["id"]: cli("dlq", "show", str(letter["id"])).stdout for letter in letters}
    assert all("stored sealed" in s and "Prokhorova" in s for s in shown.values())  # still readable

    cli("customer", "erase", "--phone", "+79125550102")
    for letter in letters:
        erased = cli("dlq", "show", str(letter["id"]))
        assert "[erased] its customer's personal data was erased" in erased.stdout and "Prokhorova" not in erased.stdout
        retried = cli("dlq", "retry", str(letter["id"]))
        assert "still failing (reasons: payload_erased=1)" in retried.stdout, retried.stdout
    everything = cli("dlq", "retry", "--all")
    assert "payload_erased=2" in everything.stdout and "Traceback" not in everything.stderr
    listed = json.loads(cli("dlq", "list", "--format", "json").stdout)
    assert sorted(letter["reason"] for letter in listed) == ["payload_erased", "payload_erased"]
    assert "customer_name=[erased]" in cli("incident", "show", "ZOE-1").stdout
    assert "customer_name=[held]" in cli("incident", "show", "OLGA-1").stdout  # her own key
    exported = tmp_path / "zoe.json"
    cli("customer", "export", "--phone", PHONE, "-o", str(exported))
    assert [d["message"] for d in json.loads(exported.read_text())["dead_letters"]] == ["[erased]", "[erased]"]


def test_a_secret_rotation_through_the_pipeline_keeps_customers_and_erase_finds_them(
    any_store_cli: Cli, tmp_path: Path
) -> None:
    cli = any_store_cli
    cli.env["TICKETSTREAM_CUSTOMER_PHONE_REGION"] = "RU"
    refused = {**_received("ZOE-9", 2, PHONE, "delivery"), "channel": ""}
    _send_raw(cli, [("received", b"ZOE-1", json.dumps(_received("ZOE-1", 3, PHONE, "delivery")).encode()),
                    ("received", b"ZOE-9", json.dumps(refused).encode())])  # fmt: skip
    cli("consume", "--once")
    cli("project", "--once")
    before = _reports(cli)
    secret = tmp_path / "var" / "customer_key.secret"
    old_secret = secret.read_text()

    rotated = cli("customer", "rotate-secret")
    assert "indexed 1 customers" in rotated.stdout and secret.read_text() != old_secret
    cli("project", "--once")
    assert _reports(cli) == before  # nothing stored changed
    # Three days later she calls again, her phone spelled nationally: keyed under the new secret only.
    _send_raw(cli, [("received", b"ZOE-2", json.dumps(_received("ZOE-2", 6, "8 (912) 555-01-02", "refund")).encode())])
    cli("consume", "--once")
    cli("project", "--once")
    repeats = json.loads(cli("report", "repeat-contacts", "--from", "2025-03", "--to", "2025-03", "--format", "json").stdout)
    assert sum(r["repeat_contacts"] for r in repeats) == 1  # ZOE-2 links to ZOE-1, across the rotation
    exported = tmp_path / "zoe.json"
    cli("customer", "export", "--phone", PHONE, "-o", str(exported))
    held = json.loads(exported.read_text())
    assert sorted(i["incident_id"] for i in held["incidents"]) == ["ZOE-1", "ZOE-2"] and len(held["dead_letters"]) == 1

    erased = cli("customer", "erase", "--phone", "+79125550102")
    assert "deleted its data key" in erased.stdout
    stored = _store_bytes(cli, tmp_path)
    for needle in NEEDLES:
        assert needle.encode() not in stored, needle
    assert "customer_name=[erased]" in cli("incident", "show", "ZOE-2").stdout
    assert "[erased]" in cli("dlq", "show", str(held["dead_letters"][0]["id"])).stdout
    # The old secret is refused from now on, in one line.
    cli.env["TICKETSTREAM_CUSTOMER_KEY_SECRET"] = old_secret.strip()
    wrong = cli("customer", "erase", "--phone", PHONE, check=False)
    assert wrong.returncode != 0 and "rotated to" in wrong.stderr and "Traceback" not in wrong.stderr
