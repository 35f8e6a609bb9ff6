"""Topics interleaved differently, or everything published twice: the same store and read models."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from contracts.routing import TopicMap
from producers.jsonl import read_events
from producers.publisher import Publisher
from producers.simulator import SimulationSpec, simulate
from tests.integration.conftest import Cli
from testkit.arrival_orders import interleavings
from testkit.faults import snapshot
from tests.integration.test_scale_out import read_models


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
    return (stored.facts, sorted(set(reasons))), read_models(run)


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
