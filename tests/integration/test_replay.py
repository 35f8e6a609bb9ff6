"""`replay` through the real broker: --into rebuilds the write side, --verify compares the log
with the store; the live group's offsets and the dead-letter topic are never touched."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from producers.simulator import SimulationSpec, simulate, write_jsonl
from tests.integration.conftest import Cli
from testkit.faults import snapshot

BAD = [(b"{not json", "not_json"), (b"[1, 2]", "not_an_object")]


def _published(cli: Cli, tmp_path: Path) -> list[dict[str, object]]:
    events = simulate(SimulationSpec(months=1, seed=23, start=date(2025, 3, 1), incidents_per_month=60))
    path = tmp_path / "march.jsonl"
    with path.open("w") as stream:
        write_jsonl(events, stream)
    cli("publish", str(path))
    producer = KafkaProducer(bootstrap_servers=cli.bootstrap)
    for value, _ in BAD:
        producer.send(cli.topics.received, key=b"INC-BAD", value=value)
    producer.flush()
    producer.close()
    return events


def _committed(cli: Cli) -> dict[str, int | None]:
    group = cli.env["TICKETSTREAM_CONSUMER_GROUP"]
    consumer = KafkaConsumer(bootstrap_servers=cli.bootstrap, group_id=group, enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(t, p) for t in (cli.topics.received, cli.topics.resolved)
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]  # fmt: skip
        return {f"{tp.topic}:{tp.partition}": consumer.committed(tp) for tp in partitions}
    finally:
        consumer.close()


def _dead_letter_topic_size(cli: Cli) -> int:
    """Messages on the dead-letter topic, counted by reading it (Tansu's ListOffsets lags)."""
    consumer = KafkaConsumer(
        cli.topics.dlq, bootstrap_servers=cli.bootstrap, auto_offset_reset="earliest",
        enable_auto_commit=False, consumer_timeout_ms=3000,
    )  # fmt: skip
    try:
        return sum(1 for _ in consumer)
    finally:
        consumer.close()


def test_replay_into_a_fresh_store_rebuilds_the_write_side_without_side_effects(
    cli: Cli, tmp_path: Path
) -> None:
    events = _published(cli, tmp_path)
    cli("consume", "--once")
    live = snapshot(cli.env["TICKETSTREAM_EVENT_STORE"])
    assert len(live.events) == len(events) and sorted(r for *_, r in live.letters) == sorted(r for _, r in BAD)
    committed, letters_sent = _committed(cli), _dead_letter_topic_size(cli)
    assert letters_sent == len(BAD)
    target = tmp_path / "replayed.db"

    result = cli("replay", "--from-beginning", "--into", str(target))

    assert f"replayed {len(events) + len(BAD)} messages" in result.stdout
    assert f"{len(BAD)} dead letters recorded in the target store, none published" in " ".join(result.stdout.split())
    assert snapshot(str(target)) == live  # facts, dead letters with reasons and coordinates, offsets
    assert _committed(cli) == committed  # the live group's offsets untouched
    assert _dead_letter_topic_size(cli) == letters_sent  # nothing re-published
    again = cli("replay", "--from-beginning", "--into", str(target), check=False)
    assert again.returncode == 2 and "needs a fresh store" in again.stderr


def test_replay_verify_agrees_with_a_faithful_store_and_names_what_differs(cli: Cli, tmp_path: Path) -> None:
    events = _published(cli, tmp_path)
    cli("consume", "--once")

    agreed = cli("replay", "--from-beginning", "--verify")

    assert "they agree" in agreed.stdout
    assert f"{len(BAD)} held there as dead letters or parked" in agreed.stdout
    # One stored fact lost, one altered, and one event the store never read.
    store = sqlite3.connect(cli.env["TICKETSTREAM_EVENT_STORE"])
    with store:
        rows = store.execute("SELECT rowid, state FROM stored_events ORDER BY rowid").fetchall()
        resolved = [r for r in rows if json.loads(r[1]).get("resolution")]
        store.execute("DELETE FROM stored_events WHERE rowid=?", (resolved[0][0],))
        changed = json.loads(resolved[1][1])
        changed["digest"] = "0" * 16
        store.execute("UPDATE stored_events SET state=? WHERE rowid=?", (json.dumps(changed).encode(), resolved[1][0]))
    store.close()
    late = {**events[0], "event_id": "7" * 8 + "-1111-4111-8111-" + "7" * 12, "incident_id": "INC-LATE-1"}
    (tmp_path / "late.jsonl").write_text(json.dumps(late) + "\n")
    cli("publish", str(tmp_path / "late.jsonl"))

    differing = cli("replay", "--from-beginning", "--verify", check=False)

    assert differing.returncode == 1, differing.stderr
    text = differing.stdout
    assert "they differ" in text
    assert "2 events in the log, not in the store:" in text  # the deleted one and the late one
    assert "1 events same event id, other content:" in text
    assert json.loads(resolved[0][1])["event_id"] in text and late["event_id"] in text
    assert changed["event_id"] in text


def test_replay_verify_over_a_time_range_compares_only_that_range(cli: Cli, tmp_path: Path) -> None:
    _published(cli, tmp_path)
    cli("consume", "--once")

    second_half = cli("replay", "--from-timestamp", "2025-03-16T00:00:00+00:00", "--verify")
    first_half = cli("replay", "--from-beginning", "--to-timestamp", "2025-03-16", "--verify")

    assert "they agree" in second_half.stdout and "they agree" in first_half.stdout
    count = lambda r: int(r.stdout.split("verified ")[1].split(" ")[0])  # noqa: E731
    whole = cli("replay", "--from-beginning", "--verify")
    assert 0 < count(second_half) < count(whole) and 0 < count(first_half) < count(whole)


def test_replay_mistakes_are_one_line(cli: Cli) -> None:
    for args, says in [
        (("replay", "--verify"), "give one start"),
        (("replay", "--from-beginning"), "give --into STORE_URL or --verify"),
        (("replay", "--from-offsets", "nonsense", "--verify"), "is not TOPIC:PARTITION=OFFSET"),
        (("replay", "--from-timestamp", "soon", "--verify"), "'soon' is not a moment"),
        (("replay", "--from-beginning", "--into", cli.env["TICKETSTREAM_EVENT_STORE"]), "names the configured event store"),
    ]:
        result = cli(*args, check=False)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.strip().count("\n") == 0 and says in result.stderr, (args, result.stderr)
