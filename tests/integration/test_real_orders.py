"""Real traffic's orders through the real broker: a grouped export from a raw producer.

A history export arrives grouped by incident with its rows out of order; a raw kafka-python
client stamps wall-clock record times (thousands share a millisecond); whole topics come late.
Each order is consumed into a fresh store and must give the same stored facts, no dead letter,
and the same rows in every read-model table as the publisher SDK's time order.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from contracts.routing import TopicMap
from producers.jsonl import read_events
from producers.publisher import Publisher
from producers.simulator import SimulationSpec, simulate
from tests.integration.conftest import Cli
from testkit.arrival_orders import grouped_by_incident, topics_reversed

Event = dict[str, Any]
READ_MODEL_TABLES = (
    "channel_mix", "channel_mix_receipts", "dynamics", "thanks_share", "sla_clocks",
)  # fmt: skip


def _run(cli: Cli, tmp_path: Path, name: str, batch: int = 500) -> tuple[Cli, TopicMap]:
    topics = TopicMap(**{f: f"{tmp_path.name}-{name}.{f}" for f in TopicMap.model_fields})
    env = {
        **cli.env, "TICKETSTREAM_EVENT_STORE": str(tmp_path / f"{name}.db"),
        "TICKETSTREAM_MAX_POLL_RECORDS": str(batch),
        "TICKETSTREAM_CONSUMER_GROUP": f"{cli.env['TICKETSTREAM_CONSUMER_GROUP']}-{name}",
        **{f"TICKETSTREAM_TOPICS__{f.upper()}": t for f, t in topics.model_dump().items()},
    }  # fmt: skip
    run = Cli(env, cli.cwd, topics, cli.bootstrap)
    run("consume", "--once")  # creates the topics (and finds them empty)
    return run, topics


def _publish_raw(bootstrap: str, topics: TopicMap, events: Sequence[Event]) -> None:
    """A plain kafka-python producer: wall-clock record times, default partitioner."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        futures = [
            producer.send(
                topics.topic_for(str(e["type"])), key=str(e["incident_id"]).encode(),
                value=json.dumps(e).encode(),
            )
            for e in events
        ]  # fmt: skip
        producer.flush()
        for future in futures:
            future.get(timeout=30)
    finally:
        producer.close()


def _publish_sdk(bootstrap: str, topics: TopicMap, events: Sequence[Event]) -> None:
    publisher = Publisher.connect(bootstrap, topics)
    try:
        publisher.publish(read_events(json.dumps(e).encode() for e in events).events)
    finally:
        publisher.close()


def _outcome(run: Cli) -> tuple[dict[str, Any], int]:
    """Stored facts, dead letters, parked events and every read-model table; events parked."""
    consumed = run("consume", "--once")
    run("project", "--once")
    parked = sum('"event_parked"' in line for line in consumed.stderr.splitlines())
    with sqlite3.connect(run.env["TICKETSTREAM_EVENT_STORE"]) as db:
        states = [json.loads(s) for (s,) in db.execute("SELECT state FROM stored_events")]
        outcome: dict[str, Any] = {
            "facts": sorted((s["event_id"], s["digest"]) for s in states),
            "dead_letters": db.execute("SELECT reason, detail FROM dead_letters").fetchall(),
            "parked": db.execute("SELECT event_id FROM parked_events").fetchall(),
        }
        for table in READ_MODEL_TABLES:
            outcome[table] = sorted(map(repr, db.execute(f"SELECT * FROM {table}").fetchall()))
    return outcome, parked


@pytest.mark.timeout(900)
def test_a_grouped_export_from_a_raw_producer_stores_what_the_time_order_stores(
    cli: Cli, tmp_path: Path
) -> None:
    events = simulate(SimulationSpec(months=2, seed=8, start=date(2025, 3, 1)))
    rng = random.Random(5)
    shuffled = list(events)
    rng.shuffle(shuffled)
    # (publish, order, batch size): a grouped export's incident sits together, so its facts
    # reach the consumer in small batches, or they would rarely need to wait for each other.
    orders = {
        "grouped_raw": (_publish_raw, grouped_by_incident(events, rng), 7),
        "topics_reversed_raw": (_publish_raw, None, 500),
        "shuffled_twice_raw": (_publish_raw, shuffled + list(reversed(shuffled)), 500),
    }
    reference, _ = _run(cli, tmp_path, "time_order")
    _publish_sdk(cli.bootstrap, reference.topics, events)

    expected, _ = _outcome(reference)

    assert len(expected["facts"]) == len(events)
    assert expected["dead_letters"] == expected["parked"] == []
    for name, (publish, order, batch) in orders.items():
        run, topics = _run(cli, tmp_path, name, batch)
        publish(cli.bootstrap, topics, order or topics_reversed(events, topics))
        outcome, parked = _outcome(run)
        assert outcome == expected, name
        if name != "shuffled_twice_raw":
            assert parked > 0, f"{name} never reached the parking path"
