"""Ingest benchmark: raw kafka-python consumption (a) vs consume --once + project --once (b).

Run by hand (`make bench`, or `.venv/bin/python bench/ingest.py --events 200000`). Both runs
read the same topics on the same broker in the same process run; the last line printed is
`ratio b/a = X.XXX`.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
from multiprocessing.synchronize import Event
import tempfile
import time
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

from consumers.consume import consume
from producers.jsonl import read_events
from producers.simulator import SimulationSpec, simulate
from ticketstream import assembly
from ticketstream.log_setup import configure_logging
from ticketstream.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--incidents", type=int, default=50_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    configure_logging("WARNING", "json")

    started = time.perf_counter()
    events = _dataset(args.events, args.incidents, args.seed)
    print(f"data set: {len(events):,} events, generated in {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            event_store=str(Path(tmp) / "bench.db"),
            topic_partitions=args.partitions,
            state_dir=Path(tmp),
        )
        with assembly.kafka_bootstrap(settings, embedded=True) as servers:
            _publish(settings, servers, events)
            raw_rate = _raw_consumption(servers, settings.topics.incident_topics, len(events))
            print(f"(a) kafka-python, no processing: {raw_rate:,.0f} events/s")
            end_to_end_rate = _end_to_end(settings, servers, len(events))
            live = settings.model_copy(update={
                "event_store": str(Path(tmp) / "live.db"), "consumer_group": "bench-live",
            })  # fmt: skip
            live_rate = _side_by_side(live, servers, len(events))
    print(f"(b) consume --once + project --once: {end_to_end_rate:,.0f} events/s")
    print(f"(c) consume --once beside a running project: {live_rate:,.0f} events/s")
    print(f"ratio c/a = {live_rate / raw_rate:.3f} (the deployed topology: two processes)")
    print(f"ratio b/a = {end_to_end_rate / raw_rate:.3f}")


def _dataset(count: int, incidents: int, seed: int) -> list[bytes]:
    months = 12
    spec = SimulationSpec(
        months=months, seed=seed, incidents_per_month=math.ceil(incidents / months)
    )
    lines = [json.dumps(e, separators=(",", ":")).encode() for e in simulate(spec)]
    while len(lines) < count:  # not enough: a bigger population, same shape
        spec = SimulationSpec(
            months=months, seed=seed, incidents_per_month=spec.incidents_per_month * 2
        )
        lines = [json.dumps(e, separators=(",", ":")).encode() for e in simulate(spec)]
    return lines[:count]


def _publish(settings, servers: str, lines: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    sdk = assembly.publisher(settings, servers)
    try:
        sdk.publish(read_events(lines).events)
    finally:
        sdk.close()
    elapsed = time.perf_counter() - started
    print(f"published in {elapsed:.1f} s ({len(lines) / elapsed:,.0f} events/s)")


def _raw_consumption(servers: str, topics: tuple[str, ...], expected: int) -> float:
    # The same fetch settings as ticketstream's consumer, without the group and the work.
    consumer = KafkaConsumer(
        bootstrap_servers=servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=10_000,
        fetch_max_bytes=32 * 1024 * 1024,
        max_partition_fetch_bytes=1024 * 1024,
        fetch_max_wait_ms=100,
    )
    partitions = [
        TopicPartition(topic, p) for topic in topics for p in consumer.partitions_for_topic(topic)
    ]
    consumer.assign(partitions)
    consumer.seek_to_beginning()
    started = time.perf_counter()
    seen = 0
    while seen < expected:
        for records in consumer.poll(timeout_ms=1000).values():
            seen += sum(len(r.value) > 0 for r in records)
    elapsed = time.perf_counter() - started
    consumer.close()
    return seen / elapsed


def _consume_once(settings, servers: str, app):  # type: ignore[no-untyped-def]
    """`consume --once` in this process: every partition drained into the store."""
    step = assembly.ingest(settings, app)
    source = assembly.kafka_source(settings, servers, step)
    sdk = assembly.publisher(settings, servers)
    try:
        return consume(source, step, assembly.dead_letter_topic(settings, sdk, app), once=True)
    finally:
        source.close()
        sdk.close()


def _end_to_end(settings, servers: str, expected: int) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    app = assembly.open_incidents(settings)
    totals = _consume_once(settings, servers, app)
    consumed = time.perf_counter() - started
    projected_from = time.perf_counter()
    runner = assembly.projection_runner(settings, app)
    notifications = runner.catch_up()
    projected = time.perf_counter() - projected_from
    elapsed = time.perf_counter() - started
    print(
        f"    consume: {totals.messages:,} messages in {consumed:.1f} s "
        f"(polling {totals.poll_seconds:.1f} s of which group join {totals.first_message_after:.1f} s,"
        f" ingesting {totals.ingest_seconds:.1f} s) "
        f"({totals.applied:,} applied, {totals.parked - totals.unparked:,} parked, "
        f"{totals.dead_lettered:,} dead-lettered); project: {notifications:,} in {projected:.1f} s"
        f" ({', '.join(f'{name} {s:.1f} s' for name, s in runner.seconds.items())})"
    )
    if totals.messages < expected:
        raise SystemExit(f"consumed only {totals.messages} of {expected} messages")
    return expected / elapsed


def _project_until_caught_up(settings, consumed: Event) -> None:  # type: ignore[no-untyped-def]
    """`project` as its own process: follow the store until the consumer is done, then catch up."""
    configure_logging("WARNING", "json")
    app = assembly.open_incidents(settings)
    runner = assembly.projection_runner(settings, app)
    while not consumed.is_set():
        if runner.run_batch() == 0:
            time.sleep(0.05)
    runner.catch_up()


def _side_by_side(settings, servers: str, expected: int) -> float:  # type: ignore[no-untyped-def]
    """consume --once with the projection running beside it (another process, another core),
    until the read models have caught up with everything consumed."""
    started = time.perf_counter()
    app = assembly.open_incidents(settings)
    assembly.projection_runner(settings, app)  # its tables exist before both start
    consumed = multiprocessing.Event()
    projector = multiprocessing.Process(target=_project_until_caught_up, args=(settings, consumed))
    projector.start()
    totals = _consume_once(settings, servers, app)
    consumed_after = time.perf_counter() - started
    consumed.set()
    projector.join()
    elapsed = time.perf_counter() - started
    print(f"    side by side: consumed in {consumed_after:.1f} s, read models caught up at {elapsed:.1f} s")
    lag = max(s.lag for s in assembly.projection_runner(settings, app).status())
    if totals.messages < expected or projector.exitcode != 0 or lag:
        raise SystemExit(
            f"side by side: consumed {totals.messages}, projector exit {projector.exitcode}, lag {lag}"
        )
    return expected / elapsed


if __name__ == "__main__":
    main()
