"""Topics interleaved differently, or everything published twice: the same store and read models."""

from __future__ import annotations

import json
import random
import sqlite3
from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any
from pathlib import Path

import pytest

from contracts.routing import TopicMap
from producers.jsonl import read_events
from producers.publisher import Publisher
from producers.simulator import SimulationSpec, simulate
from tests.integration.conftest import Cli
from testkit.arrival_orders import interleavings
from testkit.faults import snapshot
from tests.integration.test_real_orders import _outcome, _publish_raw, _publish_sdk, _run as _run_order, grouped_by_incident, topics_reversed
from testkit.read_models import read_models
from testkit.hostile_messages import CONTEXT_FREE, DEFAULT_MAX_BYTES, World, publish_raw


def _run(cli: Cli, tmp_path: Path, name: str, events: list[dict[str, object]]) -> tuple[object, object]:
    topics = TopicMap(**{f: f"{tmp_path.name}-{name}.{f}" for f in TopicMap.model_fields})
    env = {**cli.env, "TICKETSTREAM_EVENT_STORE": str(tmp_path / f"{name}.db"),
           "TICKETSTREAM_CONSUMER_GROUP": f"{cli.env['TICKETSTREAM_CONSUMER_GROUP']}-{name}",
           **{f"TICKETSTREAM_TOPICS__{f.upper()}": t for f, t in topics.model_dump().items()}}
    run = Cli(env, cli.cwd, topics, cli.bootstrap)
    run("consume", "--once")  # creates the topics (and finds them empty)
    publisher = Publisher.connect(cli.bootstrap, topics)
    try:
        publisher.publish(read_events(json.dumps(e).encode() for e in events).events)
    finally:
        publisher.close()
    run("consume", "--once")
    stored = snapshot(env["TICKETSTREAM_EVENT_STORE"])
    reasons = sorted(reason for _, _, _, reason in stored.letters)
    return (stored.facts, sorted(set(reasons))), read_models(run.env, run.cwd)


@pytest.mark.timeout(900)
def test_interleaving_topics_differently_or_publishing_twice_changes_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    events = simulate(SimulationSpec(months=4, seed=44, start=date(2025, 1, 1)))
    orders = interleavings(events, TopicMap(), seed=9)

    results = {name: _run(cli, tmp_path, name, order) for name, order in orders.items()}

    expected_store, expected_models = results.pop("in_order")
    assert len(expected_store[0]) == len(events)  # type: ignore[index]
    for name, (store, models) in results.items():
        assert store == expected_store, name
        assert models == expected_models, name


# Attacks whose reason the message alone decides (the contract's), so any order gives it.
_CONTRACT_ATTACKS = tuple(
    attack for attack in CONTEXT_FREE
    if attack.__name__ not in {"_orphan", "_just_under_the_limit"}
)


def _contract_attacks(events: list[dict[str, object]], seed: int) -> list[tuple[str, bytes, bytes, str | None]]:
    world = World(events, random.Random(seed), DEFAULT_MAX_BYTES)
    return [world.attack(attack) for attack in _CONTRACT_ATTACKS for _ in range(2)]


@pytest.mark.timeout(900)
def test_attacks_and_duplicates_in_grouped_and_reversed_orders_store_what_the_time_order_stores(
    cli: Cli, tmp_path: Path
) -> None:
    events = simulate(SimulationSpec(months=2, seed=12, start=date(2025, 3, 1)))
    rng = random.Random(17)
    duplicates = rng.sample(events, 40)  # published twice: stored once
    attacks = _contract_attacks(events, seed=3)
    same_instant = Counter((e["incident_id"], e["occurred_at"]) for e in events)
    assert sum(n > 1 for n in same_instant.values()) > 10  # facts of one incident at one instant

    def run_order(name: str, batch: int, publish: Callable[[Cli, TopicMap], None]) -> tuple[dict[str, Any], int]:
        run, topics = _run_order(cli, tmp_path, name, batch)
        publish(run, topics)
        expected_letters = publish_raw(cli.bootstrap, lambda c: getattr(topics, c), attacks)
        outcome, parked = _outcome(run)
        with sqlite3.connect(run.env["TICKETSTREAM_EVENT_STORE"]) as db:
            stored = Counter(db.execute(
                "SELECT source_topic, source_partition, source_offset, reason FROM dead_letters").fetchall())
        assert stored == expected_letters, f"{name}: every attack dead-lettered with its own reason"
        outcome["dead_letters"] = sorted(outcome["dead_letters"])
        return outcome, parked

    expected, _ = run_order("time_order", 500, lambda run, topics: _publish_sdk(
        cli.bootstrap, topics, sorted(events + duplicates, key=lambda e: str(e["occurred_at"]))))
    assert len(expected["facts"]) == len(events) and len(expected["dead_letters"]) == len(attacks)
    assert expected["parked"] == []
    orders: dict[str, tuple[int, Callable[[Cli, TopicMap], None]]] = {
        "grouped_raw": (7, lambda run, topics: _publish_raw(
            cli.bootstrap, topics, grouped_by_incident(events + duplicates, rng))),
        "topics_reversed_raw": (500, lambda run, topics: _publish_raw(
            cli.bootstrap, topics, topics_reversed(events + duplicates, topics))),
    }
    for name, (batch, publish) in orders.items():
        outcome, parked = run_order(name, batch, publish)
        assert outcome == expected, name
        assert parked > 0, f"{name} never reached the parking path"
