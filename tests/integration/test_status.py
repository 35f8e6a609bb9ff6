"""`ticketstream status` through the real broker: per partition Kafka's end, the stored
position and the lag; the projections' lag; open dead letters by reason."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from kafka import KafkaProducer

from producers.simulator import SimulationSpec, simulate, write_jsonl
from tests.integration.conftest import Cli


def _publish(cli: Cli, path: Path, events: list[dict[str, object]]) -> None:
    with path.open("w") as stream:
        write_jsonl(events, stream)
    cli("publish", str(path))


def test_status_shows_what_kafka_holds_that_the_store_has_not_applied(cli: Cli, tmp_path: Path) -> None:
    events = simulate(SimulationSpec(months=1, seed=31, start=date(2025, 3, 1), incidents_per_month=40))
    half = len(events) // 2
    _publish(cli, tmp_path / "first.jsonl", events[:half])
    producer = KafkaProducer(bootstrap_servers=cli.bootstrap)
    producer.send(cli.topics.received, key=b"INC-X", value=b"{broken")
    producer.flush()
    producer.close()
    cli("consume", "--once")
    _publish(cli, tmp_path / "second.jsonl", events[half:])

    screen = json.loads(cli("status", "--format", "json").stdout)

    partitions = screen["partitions"]
    assert sum(p["lag"] for p in partitions) == len(events) - half
    assert sum(p["kafka_end_offset"] for p in partitions) == len(events) + 1
    assert screen["open_dead_letters"] == {"not_json": 1}
    sla = next(p for p in screen["projections"] if p["projection"] == "sla_clocks")
    assert sla["lag"] == half and sla["event_time_behind_seconds"] > 0
    cli("consume", "--once")
    cli("project", "--once")
    after = json.loads(cli("status", "--format", "json").stdout)
    assert all(p["lag"] == 0 for p in after["partitions"])
    assert all(p["lag"] == 0 and p["wall_time_behind_seconds"] == 0 for p in after["projections"])
    table = cli("status").stdout
    assert "Partitions" in table and "Projections" in table and "not_json" in table


def test_status_without_a_broker_still_shows_the_store(tmp_path: Path, cli: Cli) -> None:
    env = {k: v for k, v in cli.env.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    alone = Cli(env, cli.cwd, cli.topics, cli.bootstrap)

    result = alone("status")

    assert result.returncode == 0
    assert "Kafka: not asked:" in result.stdout and "Projections" in result.stdout
