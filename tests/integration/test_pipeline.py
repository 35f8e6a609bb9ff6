"""End to end through the real broker: publish → consume → project → report, via the CLI."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import date, datetime, timezone
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from producers.simulator import SimulationSpec, simulate, write_jsonl
from tests.integration.conftest import Cli

MALFORMED = [
    ("received", b"{not json", "not_json"),
    ("received", b"\xff\xfe\x00garbage", "not_json"),
    ("resolved", b"[1, 2, 3]", "not_an_object"),
    ("lifecycle", b'{"type": "incident.teleported", "schema_version": 1}', "unknown_type"),
    ("escalated", b'{"schema_version": 1, "incident_id": "X"}', "missing_type"),
    ("received", b"x" * 70_000, "oversized"),
]


def _month_events(tmp_path: Path) -> tuple[Path, list[dict[str, object]]]:
    events = simulate(SimulationSpec(months=1, seed=11, start=date(2025, 3, 1)))
    path = tmp_path / "march.jsonl"
    with path.open("w") as stream:
        write_jsonl(events, stream)
    return path, events


def _naive_and_invalid(events: list[dict[str, object]]) -> list[tuple[str, bytes, str]]:
    received = next(e for e in events if e["type"] == "incident.received")
    naive = {**received, "occurred_at": "2025-03-03T10:00:00", "event_id": "5" * 8 + "-1111-4111-8111-" + "1" * 12}
    wrong_version = {**received, "schema_version": 2}
    return [
        ("received", json.dumps(naive).encode(), "schema_violation"),
        ("received", json.dumps(wrong_version).encode(), "unsupported_schema_version"),
    ]


def _expected_channel_mix(events: list[dict[str, object]]) -> Counter[tuple[str, str]]:
    """Contacts per (UTC month, channel) from the wire events: an incident under its final
    channel (its latest channel correction in event time), a thanks under its own."""
    final: dict[object, tuple[datetime, str]] = {}
    for e in events:
        if e["type"] == "incident.reclassified" and e.get("channel"):
            at = datetime.fromisoformat(str(e["occurred_at"]))
            if e["incident_id"] not in final or final[e["incident_id"]][0] < at:
                final[e["incident_id"]] = (at, str(e["channel"]))
    expected: Counter[tuple[str, str]] = Counter()
    for e in events:
        if e["type"] in ("incident.received", "incident.thanked"):
            at = datetime.fromisoformat(str(e["occurred_at"])).astimezone(timezone.utc)
            corrected = final.get(e["incident_id"]) if e["type"] == "incident.received" else None
            channel = corrected[1] if corrected else str(e["channel"])
            expected[(at.strftime("%Y-%m"), channel)] += 1
    assert any(e["type"] == "incident.received" for e in events)  # the month has incidents
    return expected


def _send_raw(cli: Cli, messages: list[tuple[str, bytes | None, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=cli.bootstrap, acks="all")
    for concern, key, value in messages:
        producer.send(getattr(cli.topics, concern), key=key, value=value).get(timeout=30)
    producer.close()


def test_a_published_month_with_duplicates_and_garbage_reports_exact_channel_counts(
    any_store_cli: Cli, tmp_path: Path
) -> None:
    cli = any_store_cli
    path, events = _month_events(tmp_path)
    bad = [(c, v, r) for c, v, r in MALFORMED] + _naive_and_invalid(events)
    duplicates = random.Random(3).sample(events, 40)

    cli("publish", str(path))
    _send_raw(cli, [(c, b"BAD", v) for c, v, _ in bad])
    _send_raw(
        cli,
        [
            (_concern(str(e["type"])), str(e["incident_id"]).encode(), json.dumps(e).encode())
            for e in duplicates
        ],
    )
    consumed = cli("consume", "--once")
    cli("project", "--once")
    report = cli("report", "channels", "--format", "json", "--to", "2025-12")
    letters = json.loads(cli("dlq", "list", "--format", "json").stdout)

    rows = json.loads(report.stdout)
    assert Counter({(r["month"], r["channel"]): r["contacts"] for r in rows}) == _expected_channel_mix(events)
    assert all(abs(sum(r["share"] for r in rows if r["month"] == m) - 1) < 0.01 for m in {r["month"] for r in rows})
    assert f"{len(events)} events applied" in consumed.stdout
    assert "40 duplicates ignored" in consumed.stdout
    assert sorted(letter["reason"] for letter in letters) == sorted(r for _, _, r in bad)
    assert {letter["topic"] for letter in letters} <= set(cli.topics.incident_topics)
    assert sorted(_dead_letter_topic_reasons(cli, len(bad))) == sorted(r for _, _, r in bad)


def test_dead_letters_keep_the_original_bytes(cli: Cli, tmp_path: Path) -> None:
    bad = [(c, v, r) for c, v, r in MALFORMED]

    _send_raw(cli, [(c, b"BAD", v) for c, v, _ in bad])
    cli("consume", "--once")

    with sqlite3.connect(tmp_path / "events.db") as db:
        letters = db.execute("SELECT reason, payload FROM dead_letters ORDER BY id").fetchall()
    assert sorted((r, bytes(p)) for r, p in letters) == sorted((r, v) for _, v, r in bad)


def test_consuming_again_applies_nothing_twice(cli: Cli, tmp_path: Path) -> None:
    path, events = _month_events(tmp_path)
    cli("publish", str(path))
    cli("consume", "--once")

    again = cli("consume", "--once")

    assert "0 events applied" in again.stdout
    with sqlite3.connect(tmp_path / "events.db") as db:
        assert db.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0] == len(events)


def test_the_dynamics_and_thanks_reports_count_what_was_published(cli: Cli, tmp_path: Path) -> None:
    path, events = _month_events(tmp_path)
    cli("publish", str(path))
    cli("consume", "--once")
    cli("project", "--once")

    dynamics = json.loads(cli("report", "dynamics", "--format", "json", "--to", "2025-12").stdout)
    thanks = json.loads(cli("report", "thanks", "--format", "json", "--to", "2025-12").stdout)

    kinds = Counter(str(e["type"]) for e in events)
    assert sum(r["incidents"] for r in dynamics) == kinds["incident.received"]
    assert sum(r["thanks"] for r in thanks) == kinds["incident.thanked"]
    assert sum(r["contacts"] for r in thanks) == kinds["incident.received"] + kinds["incident.thanked"]


def _concern(event_type: str) -> str:
    kind = event_type.removeprefix("incident.")
    return kind if kind in ("received", "escalated", "resolved", "thanked") else "lifecycle"


def _dead_letter_topic_reasons(cli: Cli, expected: int) -> list[str]:
    consumer = KafkaConsumer(bootstrap_servers=cli.bootstrap, auto_offset_reset="earliest")
    partitions = [TopicPartition(cli.topics.dlq, p) for p in consumer.partitions_for_topic(cli.topics.dlq)]
    consumer.assign(partitions)
    consumer.seek_to_beginning()
    reasons: list[str] = []
    for _ in range(20):
        for records in consumer.poll(timeout_ms=500).values():
            reasons += [dict(r.headers)["dlq.reason"].decode() for r in records]
        if len(reasons) >= expected:
            break
    consumer.close()
    return reasons


def test_an_unreachable_broker_is_one_line_and_exit_code_2_for_a_command(cli: Cli) -> None:
    cli.env["KAFKA_BOOTSTRAP_SERVERS"] = "127.0.0.1:1"

    result = cli("simulate", "--months", "1", "--publish", check=False)

    assert result.returncode == 2
    assert result.stderr.strip() == "ticketstream: error: no Kafka broker reachable at 127.0.0.1:1"


def test_consume_waits_for_an_unreachable_broker_then_gives_up_with_one_line(cli: Cli) -> None:
    cli.env["KAFKA_BOOTSTRAP_SERVERS"] = "127.0.0.1:1"
    cli.env["TICKETSTREAM_GIVE_UP_AFTER_SECONDS"] = "12"
    cli.env["TICKETSTREAM_RETRY_MAX_DELAY_SECONDS"] = "1"

    result = cli("consume", "--once", check=False)

    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("ticketstream: error: gave up connecting to kafka after ")
    assert lines[-1].endswith("no Kafka broker reachable at 127.0.0.1:1")
    assert sum('"outage_retry_scheduled"' in line for line in lines) >= 1


def test_sigterm_finishes_the_batch_and_exits_0(cli: Cli, tmp_path: Path) -> None:
    path, events = _month_events(tmp_path)
    cli("publish", str(path))
    consumer = subprocess.Popen(
        [sys.executable, "-m", "ticketstream", "consume"],
        env=cli.env, cwd=cli.cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _stored_events(tmp_path) < len(events):
        time.sleep(0.5)

    consumer.send_signal(signal.SIGTERM)
    out, _ = consumer.communicate(timeout=30)

    assert consumer.returncode == 0
    assert f"{len(events)} events applied" in out
    assert _stored_events(tmp_path) == len(events)


def test_the_demo_reports_and_leaves_no_broker_running(tmp_path: Path) -> None:
    before = _tansu_processes()

    result = subprocess.run(
        [sys.executable, "-m", "ticketstream", "demo", "--months", "2"],
        env={**os.environ, "TICKETSTREAM_STATE_DIR": str(tmp_path / "var")},
        cwd=tmp_path, capture_output=True, text=True, timeout=240,
    )

    assert result.returncode == 0, result.stderr
    for title in ("Channel mix", "Incident dynamics", "Share of thanks"):
        assert title in result.stdout
    assert "3 dead-lettered" in result.stdout
    assert _tansu_processes() == before
    page = tmp_path / "var" / "report.html"
    assert f"as a page: {page}" in " ".join(result.stdout.split())
    assert '<section id="long-service">' in page.read_text(encoding="utf-8")


def _stored_events(tmp_path: Path) -> int:
    try:
        with sqlite3.connect(tmp_path / "events.db") as db:
            return int(db.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def _tansu_processes() -> set[int]:
    found = subprocess.run(["pgrep", "-f", "tansu"], capture_output=True, text=True).stdout
    return {int(pid) for pid in found.split()}


def test_a_running_projector_follows_new_events_and_stops_on_sigterm(cli: Cli, tmp_path: Path) -> None:
    path, events = _month_events(tmp_path)
    projector = subprocess.Popen(
        [sys.executable, "-m", "ticketstream", "project"],
        env=cli.env, cwd=cli.cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    cli("publish", str(path))
    cli("consume", "--once")
    received = sum(1 for e in events if e["type"] == "incident.received")
    deadline = time.monotonic() + 60
    incidents = 0
    while time.monotonic() < deadline and incidents < received:
        rows = json.loads(cli("report", "dynamics", "--format", "json", "--to", "2025-12").stdout)
        incidents = sum(r["incidents"] for r in rows)
        time.sleep(0.5)

    projector.send_signal(signal.SIGTERM)
    projector.communicate(timeout=30)

    assert incidents == received
    assert projector.returncode == 0
