"""Ingest benchmark: raw kafka-python consumption (a) against ticketstream on the same broker.

Run by hand (`make bench`, or `.venv/bin/python bench/ingest.py --events 200000`):

- (a) kafka-python reading every incident topic, no processing;
- (b) `consume --once` then `project --once`, each in a fresh process (its peak RSS printed);
- (c) `consume --once` with `project` running beside it in its own process (two cores);
- (d) `projections rebuild --all` over the store (b) filled, in a fresh process;
- (e) `replay --from-beginning --into` a fresh store (a group-less reader, same ingest).

``--customers-cost`` instead measures only (a) and (b), twice in one run: on the data set as
simulated (a share of receipts naming a customer: keyed, sealed, data keys made) and on the
same data set with every ``customer`` removed, and prints both b/a ratios and their quotient.

``--at-scale 1000000:250000`` repeats everything at that size (events:incidents) and prints
each rate and peak RSS against the first size's; ``--store postgresql://…`` also runs (b) on
that PostgreSQL (a schema of its own, dropped after); ``--stages b`` measures only (a) and (b)
(e.g. to compare peak memory at two sizes quickly). Every rate is events per second and every
ratio is against (a) of the same size, measured in the same run. The last line printed is
`ratio b/a = X.XXX` of the first size.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from consumers.consume import consume
from consumers.replay import ReplayRange, SuppressedDeadLetters
from producers.jsonl import read_events
from producers.simulator import SimulationSpec, simulate
from ticketstream import assembly
from ticketstream.event_store import drop_schema
from ticketstream.log_setup import configure_logging
from ticketstream.settings import Settings, load_settings

SPAWN = multiprocessing.get_context("spawn")  # a fresh process: its peak RSS is its own


@dataclass
class Size:
    """One data set size and what was measured at it."""

    events: int
    incidents: int
    rates: dict[str, float]
    peak_mib: dict[str, float]

    @property
    def label(self) -> str:
        return f"{self.events:,} events / {self.incidents:,} incidents"

    def ratio(self, stage: str) -> float:
        return self.rates[stage] / self.rates["a"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--incidents", type=int, default=50_000)
    parser.add_argument("--at-scale", metavar="EVENTS:INCIDENTS", default=None,
                        help="also run at this size, e.g. 1000000:250000")  # fmt: skip
    parser.add_argument("--store", metavar="POSTGRESQL_URL", default=None,
                        help="also run (b) on this PostgreSQL database")  # fmt: skip
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--stages", default="bcde",
                        help="which of (b) (c) (d) (e) to measure besides (a), e.g. b; "
                             "(d) needs (b)'s store")  # fmt: skip
    parser.add_argument("--customers-cost", action="store_true",
                        help="(a) and (b) with customers and without, in one run")  # fmt: skip
    args = parser.parse_args()
    if not set(args.stages) <= set("bcde") or ("d" in args.stages and "b" not in args.stages):
        parser.error("--stages: letters of bcde, and d only with b")
    configure_logging("WARNING", "json")
    if args.customers_cost:
        _customers_cost(args.events, args.incidents, args.partitions, args.seed)
        return
    sizes = [(args.events, args.incidents)]
    if args.at_scale:
        events, incidents = (int(n) for n in args.at_scale.split(":"))
        sizes.append((events, incidents))
    results = [_measure(e, i, args.partitions, args.seed, args.store, args.stages) for e, i in sizes]
    for size in results:
        print(f"{size.label}:")
        rates = size.rates
        print(f"  (a) kafka-python, no processing: {rates['a']:,.0f} events/s")
        for stage, what in _STAGES.items():
            if stage in rates:
                print(f"  ({stage}) {what}: {rates[stage]:,.0f} events/s")
        if "b_postgresql" in rates:
            print(f"  (b) on PostgreSQL: {rates['b_postgresql']:,.0f} events/s, "
                  f"ratio b/a on PostgreSQL = {size.ratio('b_postgresql'):.3f}")  # fmt: skip
        print("  peak RSS: " + ", ".join(f"{k} {v:,.0f} MiB" for k, v in size.peak_mib.items()))
    base = results[0]
    measured = [k for k in _STAGES if k in base.rates]
    for size in results[1:]:
        print(f"at {size.events:,} against {base.events:,} events: " + ", ".join(
            f"({k}) rate x{size.rates[k] / base.rates[k]:.2f}" for k in measured
        ) + ", " + ", ".join(
            f"{k} peak RSS x{size.peak_mib[k] / base.peak_mib[k]:.2f}" for k in base.peak_mib
        ))  # fmt: skip
        print(f"ratios at {size.events:,}: " + ", ".join(f"{k}/a = {size.ratio(k):.3f}" for k in measured))
    for stage, what in _RATIOS.items():
        if stage in base.rates:
            print(f"ratio {stage}/a = {base.ratio(stage):.3f} ({what})")
    if "b" in base.rates:
        print(f"ratio b/a = {base.ratio('b'):.3f}")


_STAGES = {
    "b": "consume --once + project --once",
    "c": "consume --once beside a running project",
    "d": "projections rebuild --all",
    "e": "replay --from-beginning --into a fresh store",
}
_RATIOS = {"c": "the deployed topology: two processes", "d": "projections rebuild --all", "e": "replay --into"}


def _customers_cost(events: int, incidents: int, partitions: int, seed: int) -> None:
    """(a) and (b) on the data set as simulated and with its customers removed, in one run."""
    lines = _dataset(events, incidents, seed)
    stripped = [json.dumps({k: v for k, v in json.loads(line).items() if k != "customer"},
                           separators=(",", ":")).encode() for line in lines]  # fmt: skip
    named = sum(b'"customer":' in line for line in lines)
    print(f"data set: {len(lines):,} events, {named:,} of them naming a customer")
    ratios = {}
    for label, data in (("with customers", lines), ("without customers", stripped)):
        print(f"{label}:")
        size = _measure(events, incidents, partitions, seed, None, "b", data)
        ratios[label] = size.ratio("b")
        print(f"  ratio b/a {label} = {ratios[label]:.3f}")
    with_, without = ratios["with customers"], ratios["without customers"]
    print(f"ratio b/a with customers = {with_:.3f}, without = {without:.3f}, with/without = {with_ / without:.3f}")


def _measure(
    events: int, incidents: int, partitions: int, seed: int, store: str | None,
    stages: str = "bcde", data: list[bytes] | None = None,
) -> Size:  # fmt: skip
    started = time.perf_counter()
    lines = data if data is not None else _dataset(events, incidents, seed)
    print(f"data set: {len(lines):,} events, generated in {time.perf_counter() - started:.1f} s")
    rates: dict[str, float] = {}
    peaks: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            event_store=str(Path(tmp) / "bench.db"),
            topic_partitions=partitions,
            state_dir=Path(tmp),
            consumer_group=f"bench-{uuid.uuid4().hex[:8]}",
        )
        with assembly.kafka_bootstrap(settings, embedded=True) as servers:
            _publish(settings, servers, lines)
            rates["a"] = _raw_consumption(servers, settings.topics.incident_topics, len(lines))
            print(f"    (a) {rates['a']:,.0f} events/s")
            if "b" in stages:
                rates["b"], peaks["consume"], peaks["project"] = _end_to_end(settings, servers, len(lines))
            if "d" in stages:
                rates["d"], peaks["rebuild"] = _rebuild(settings, len(lines))
            if "e" in stages:
                rates["e"], peaks["replay"] = _replay(settings, servers, str(Path(tmp) / "replayed.db"), len(lines))
            if "c" in stages:
                live = settings.model_copy(update={
                    "event_store": str(Path(tmp) / "live.db"), "consumer_group": f"{settings.consumer_group}-live",
                })  # fmt: skip
                rates["c"] = _side_by_side(live, servers, len(lines))
            if store:
                url = f"{store}{'&' if '?' in store else '?'}schema=bench_{uuid.uuid4().hex[:8]}"
                on_postgresql = settings.model_copy(update={
                    "event_store": url, "consumer_group": f"{settings.consumer_group}-pg",
                })  # fmt: skip
                try:
                    rates["b_postgresql"], _, _ = _end_to_end(on_postgresql, servers, len(lines))
                finally:
                    drop_schema(url)
    return Size(events, incidents, rates, peaks)


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


def _publish(settings: Settings, servers: str, lines: list[bytes]) -> None:
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


def _consume_once(settings: Settings, servers: str, app: Any) -> Any:
    """`consume --once` in this process: every partition drained into the store."""
    step = assembly.ingest(settings, app)
    source = assembly.kafka_source(settings, servers, step)
    sdk = assembly.publisher(settings, servers)
    try:
        return consume(source, step, assembly.dead_letter_topic(settings, sdk, app), once=True)
    finally:
        source.close()
        sdk.close()


def _peak_mib() -> float:
    """This process's peak resident set (VmHWM: unlike ru_maxrss, not inherited over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise SystemExit("no VmHWM in /proc/self/status: peak memory needs Linux")


def _in_a_fresh_process(work: Callable[..., tuple[float, str]], *args: object) -> tuple[float, str, float]:
    """Run ``work`` in a new interpreter: (its seconds, its summary, its peak RSS in MiB)."""
    with SPAWN.Pool(1) as pool:
        return pool.apply(_measured, (work, *args))


def _measured(work: Callable[..., tuple[float, str]], *args: object) -> tuple[float, str, float]:
    configure_logging("WARNING", "json")
    seconds, summary = work(*args)
    return seconds, summary, _peak_mib()


def _consume_stage(settings: Settings, servers: str, expected: int) -> tuple[float, str]:
    started = time.perf_counter()
    totals = _consume_once(settings, servers, assembly.open_incidents(settings))
    seconds = time.perf_counter() - started
    if totals.messages < expected:
        raise SystemExit(f"consumed only {totals.messages} of {expected} messages")
    return seconds, (
        f"{totals.messages:,} messages in {seconds:.1f} s (polling {totals.poll_seconds:.1f} s of "
        f"which group join {totals.first_message_after:.1f} s, ingesting {totals.ingest_seconds:.1f} s)"
        f" ({totals.applied:,} applied, {totals.parked - totals.unparked:,} parked, "
        f"{totals.dead_lettered:,} dead-lettered)"
    )


def _project_stage(settings: Settings, rebuild: bool) -> tuple[float, str]:
    started = time.perf_counter()
    runner = assembly.projection_runner(settings, assembly.open_incidents(settings))
    notifications = runner.rebuild() if rebuild else runner.catch_up()
    seconds = time.perf_counter() - started
    per_model = ", ".join(f"{name} {s:.1f} s" for name, s in runner.seconds.items())
    return seconds, f"{notifications:,} in {seconds:.1f} s ({per_model})"


def _end_to_end(settings: Settings, servers: str, expected: int) -> tuple[float, float, float]:
    """(b): its rate, and the peak RSS of the consume and the project process."""
    consumed, summary, consume_mib = _in_a_fresh_process(_consume_stage, settings, servers, expected)
    print(f"    (b) consume: {summary}, peak RSS {consume_mib:,.0f} MiB")
    projected, summary, project_mib = _in_a_fresh_process(_project_stage, settings, False)
    print(f"    (b) project: {summary}, peak RSS {project_mib:,.0f} MiB")
    return expected / (consumed + projected), consume_mib, project_mib


def _rebuild(settings: Settings, expected: int) -> tuple[float, float]:
    """(d): `projections rebuild --all` over the store (b) filled."""
    seconds, summary, peak = _in_a_fresh_process(_project_stage, settings, True)
    print(f"    (d) rebuild: {summary}, peak RSS {peak:,.0f} MiB")
    return expected / seconds, peak


def _replay_stage(settings: Settings, servers: str, into: str, expected: int) -> tuple[float, str]:
    started = time.perf_counter()
    target = settings.model_copy(update={"event_store": into})
    app = assembly.open_incidents(target)
    step = assembly.ingest(target, app)
    source = assembly.replay_source(settings, servers, ReplayRange(), step.reload)
    try:
        totals = consume(source, step, SuppressedDeadLetters(assembly.ingest_recorder(app)), once=True)
    finally:
        source.close()
    seconds = time.perf_counter() - started
    if totals.messages < expected:
        raise SystemExit(f"replayed only {totals.messages} of {expected} messages")
    return seconds, f"{totals.messages:,} messages in {seconds:.1f} s ({totals.applied:,} applied)"


def _replay(settings: Settings, servers: str, into: str, expected: int) -> tuple[float, float]:
    """(e): `replay --from-beginning --into` a fresh store."""
    seconds, summary, peak = _in_a_fresh_process(_replay_stage, settings, servers, into, expected)
    print(f"    (e) replay: {summary}, peak RSS {peak:,.0f} MiB")
    return expected / seconds, peak


def _project_until_caught_up(settings: Settings, consumed: Event) -> None:
    """`project` as its own process: follow the store until the consumer is done, then catch up."""
    configure_logging("WARNING", "json")
    app = assembly.open_incidents(settings)
    runner = assembly.projection_runner(settings, app)
    while not consumed.is_set():
        if runner.run_batch() == 0:
            time.sleep(0.05)
    runner.catch_up()


def _side_by_side(settings: Settings, servers: str, expected: int) -> float:
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
    print(f"    (c) side by side: consumed in {consumed_after:.1f} s, read models caught up at {elapsed:.1f} s")
    lag = max(s.lag for s in assembly.projection_runner(settings, app).status())
    if totals.messages < expected or projector.exitcode != 0 or lag:
        raise SystemExit(
            f"side by side: consumed {totals.messages}, projector exit {projector.exitcode}, lag {lag}"
        )
    return expected / elapsed


if __name__ == "__main__":
    main()
