"""Reliability bench: crash, disorder, scale-out and outage scenarios at size, one line each.

Run by hand from the repository root (not part of the test suite):

    .venv/bin/python bench/reliability.py --months 24 --kills 50

Every scenario publishes a generated data set to fresh topics of an embedded broker, injects
its faults through real processes, sockets and signals, and then compares the event store
with the data set by event_id: ``lost`` = published events not stored, ``duplicated`` = stored
more than once. Needs the local PostgreSQL (127.0.0.1:5432, database ``test``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts.routing import TopicMap  # noqa: E402
from producers.jsonl import read_events  # noqa: E402
from producers.publisher import Publisher  # noqa: E402
from producers.simulator import SimulationSpec, simulate  # noqa: E402
from testkit.hostile_messages import hostile_messages, interleave, publish_raw  # noqa: E402
from testkit.faults import (  # noqa: E402
    S3Server, TcpForwarder, snapshot, stored_count, wait_until,
)
from testkit.arrival_orders import interleavings  # noqa: E402
from testkit.crash import (  # noqa: E402
    PHASES, crash_consume, crash_project, dlq_topic_letters, messy_data, store_state, topics_env,
)
from testkit.read_models import read_models  # noqa: E402
from ticketstream.embedded_broker import EmbeddedBroker  # noqa: E402
from ticketstream.event_store import drop_schema  # noqa: E402

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
Event = dict[str, object]


@dataclass
class Outcome:
    scenario: str
    messages: int
    faults: int
    lost: int
    duplicated: int
    dead_lettered: int
    wrong_reason: int = 0  # fuzz, crash: attacks not dead-lettered with the reason expected
    problems: list[str] = field(default_factory=list)  # crash: what differs from a clean run

    @property
    def verdict(self) -> str:
        failed = self.lost or self.duplicated or self.wrong_reason or self.problems
        return "FAIL " + "; ".join(self.problems) if failed else "PASS"

    def line(self) -> str:
        return (f"{self.scenario:<26} messages={self.messages:<8} faults={self.faults:<4}"
                f" lost={self.lost:<6} duplicated={self.duplicated:<6}"
                f" dead_lettered={self.dead_lettered:<6} wrong_reason={self.wrong_reason:<4}"
                f" {self.verdict}")


class Run:
    """One scenario's topics, store and CLI environment on a broker."""

    def __init__(self, bootstrap: str, work: Path, name: str, store: str, **env: str) -> None:
        self.name, self.store, self.work = name, store, work
        self.topics = TopicMap(**{f: f"bench-{name}.{f}" for f in TopicMap.model_fields})
        self.env = {
            **os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "TICKETSTREAM_EVENT_STORE": store,
            "TICKETSTREAM_STATE_DIR": str(work / "var"), "TICKETSTREAM_LOG_FORMAT": "json",
            "TICKETSTREAM_CONSUMER_GROUP": f"bench-{name}", "TICKETSTREAM_SESSION_TIMEOUT_MS": "2000",
            "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
            **{f"TICKETSTREAM_TOPICS__{f.upper()}": t for f, t in self.topics.model_dump().items()},
            **env,
        }

    def cli(self, *args: str) -> None:
        subprocess.run([sys.executable, "-m", "ticketstream", *args], env=self.env, check=True,
                       capture_output=True, timeout=3600)

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.work / f"{self.name}.log").open("ab")
        return subprocess.Popen([sys.executable, "-m", "ticketstream", "consume", *args],
                                env=self.env, stdout=subprocess.DEVNULL, stderr=log)

    def publish(self, events: list[Event]) -> int:
        self.cli("consume", "--once")  # creates the topics
        publisher = Publisher.connect(self.env["KAFKA_BOOTSTRAP_SERVERS"], self.topics)
        try:
            return publisher.publish(read_events(json.dumps(e).encode() for e in events).events)
        finally:
            publisher.close()

    def send_raw(self, messages: list[tuple[str, bytes, bytes, str | None]]) -> Counter[tuple[str, int, int, str]]:
        """Publish raw bytes in order; the dead letters the hostile ones must become."""
        bootstrap = self.env["KAFKA_BOOTSTRAP_SERVERS"]
        return publish_raw(bootstrap, lambda concern: str(getattr(self.topics, concern)), messages)

    def outcome(self, scenario: str, events: list[Event], messages: int, faults: int) -> Outcome:
        stored = snapshot(self.store)
        counts = Counter(stored.event_ids)
        expected = {str(e["event_id"]) for e in events}
        return Outcome(scenario, messages, faults, len(expected - counts.keys()),
                       sum(n - 1 for n in counts.values()), len(stored.letters))


def crash(broker: str, work: Path, events: list[Event], kills: int) -> Outcome:
    """SIGKILL `consume` in every phase (tests/integration/test_crash.py, at size), then
    `project` mid-batch; compare with a clean run of the same messages.

    The data set is made messy (testkit.crash.messy_data: grouped by incident, duplicates,
    attacks, conflicts, orphans); kills are aimed at the phases' log events and spread over
    the whole ingest. FAIL names what differs from the clean run: the store (facts, offsets,
    dead letters, parked events), the dead-letter topic, the read models, or a phase not hit.
    """
    batch = 20
    run = Run(broker, work, "crash", str(work / "crash.db"), TICKETSTREAM_MAX_POLL_RECORDS=str(batch),
              TICKETSTREAM_PROJECT_BATCH_SIZE="500")
    clean = Run(broker, work, "crash-clean", str(work / "crash-clean.db"),
                TICKETSTREAM_MAX_POLL_RECORDS=str(batch), TICKETSTREAM_PROJECT_BATCH_SIZE="500",
                **{**topics_env(run.topics), "TICKETSTREAM_TOPICS__DLQ": f"{run.topics.dlq}-clean"})
    data = messy_data(events, seed=21, attacks_per_kind=max(2, len(events) // 2000))
    run.cli("consume", "--once")  # creates the topics
    expected = run.send_raw(data.messages)
    total = len(data.messages)
    lives = crash_consume(run.env, work, kills, total, batch, random.Random(5))
    run.cli("consume", "--once")
    clean.cli("consume", "--once")
    crashed = store_state(run.store)
    projects = crash_project(run.env, work, 3, len(crashed.facts), 500, random.Random(6))
    problems = []
    hits = Counter(life.phase for life in lives if life.hit)
    if set(hits) != set(PHASES) or len([life for life in lives if not life.hit]):
        problems.append(f"phases hit {dict(hits)} of {len(lives)} kills")
    if not all(p.hit for p in projects):
        problems.append("a project kill missed its batch")
    if crashed != store_state(clean.store):
        problems.append("store differs from the clean run's")
    if set(dlq_topic_letters(broker, run.topics.dlq)) != set(crashed.letters):
        problems.append("dead-letter topic differs from the dead letters")
    if read_models(run.env, work) != read_models(clean.env, work):
        problems.append("read models differ from the clean run's")
    outcome = run.outcome("crash", data.events, total, len(lives))
    outcome.wrong_reason = sum((expected - crashed.letters).values()) + sum((crashed.letters - expected).values())
    outcome.problems = problems
    in_flight = Counter(life.phase for life in lives if life.in_flight)
    print(f"crash: kills per phase {dict(hits)}, inside the phase {dict(in_flight)}, deaths at"
          f" {sorted(round(life.at, 2) for life in lives)} of the ingest; project kills mid-batch"
          f" {sum(bool(p.in_flight) for p in projects)} of {len(projects)}", flush=True)
    return outcome


def disorder(broker: str, work: Path, events: list[Event]) -> list[Outcome]:
    outcomes = []
    for name, order in interleavings(events, TopicMap(), seed=9).items():
        run = Run(broker, work, f"disorder-{name}", str(work / f"disorder-{name}.db"))
        messages = run.publish(order)
        run.cli("consume", "--once")
        outcomes.append(run.outcome(f"disorder:{name}", events, messages, 0))
    return outcomes


def scale_out(broker: str, work: Path, events: list[Event], kills: int, store: str) -> Outcome:
    """Two group members share the partitions; the second is SIGKILLed and restarted."""
    run = Run(broker, work, "scale-out", store, TICKETSTREAM_MAX_POLL_RECORDS="20")
    messages = run.publish(events)
    steady = run.start("--once")
    wait_until(lambda: stored_count(store) > 0, 120, "progress")
    made = 0
    while made < kills and stored_count(store) < len(events):
        member = run.start("--once")
        before = stored_count(store)
        wait_until(lambda: stored_count(store) > before + 200 or stored_count(store) >= len(events),
                   300, "progress")
        member.send_signal(signal.SIGKILL)
        member.wait(timeout=30)
        made += 1
    last = run.start("--once")
    steady.wait(timeout=3600)
    last.wait(timeout=3600)
    return run.outcome("scale-out", events, messages, made)


def postgres_outage(broker: str, work: Path, events: list[Event], outages: int, store: str) -> Outcome:
    forwarder = TcpForwarder(("127.0.0.1", 5432))
    run = Run(broker, work, "pg-outage", store.replace(":5432/", f":{forwarder.port}/"),
              TICKETSTREAM_MAX_POLL_RECORDS="50")
    messages = run.publish(events)
    consumer = run.start("--once")
    for _ in range(outages):
        before = stored_count(store)
        wait_until(lambda: stored_count(store) > before, 300, "progress")
        forwarder.refuse()
        time.sleep(10)
        forwarder.accept()
    consumer.wait(timeout=3600)
    forwarder.close()
    run.store = store
    return run.outcome("pg-outage", events, messages, outages)


def broker_restart(work: Path, events: list[Event], restarts: int, store: str) -> Outcome:
    s3 = S3Server(work / "s3.log")
    durable = s3.broker(s3.bucket("bench"), work / "durable.log")
    durable.start()
    try:
        run = Run(durable.bootstrap_servers, work, "broker-restart", store,
                  TICKETSTREAM_MAX_POLL_RECORDS="50")
        messages = run.publish(events)
        consumer = run.start()  # no --once: see tests/integration/test_faults.py
        for _ in range(restarts):
            before = stored_count(store)
            wait_until(lambda: stored_count(store) > before, 300, "progress")
            durable.stop(kill=True)
            time.sleep(10)
            durable.start()
        wait_until(lambda: stored_count(store) >= len(events), 3600, "the whole data set")
        time.sleep(5)  # a duplicate would land now, if any
        consumer.send_signal(signal.SIGTERM)
        consumer.wait(timeout=120)
        return run.outcome("broker-restart", events, messages, restarts)
    finally:
        durable.stop()
        s3.stop()


def fuzz(broker: str, work: Path, events: list[Event], attacks: int) -> Outcome:
    """Valid traffic laced with seeded hostile messages (bench/hostile_messages.py).

    Every valid event must be stored once; every attack must be dead-lettered with exactly
    the reason the catalogue expects (``wrong_reason`` counts those that are not).
    """
    run = Run(broker, work, "fuzz", str(work / "fuzz.db"))
    hostile = hostile_messages(attacks, 11, events)
    # The resolution travels on another topic: an escalation after it goes after a drain.
    later = [h for h in hostile if h[3] == "escalated_after_resolution"]
    mixed = interleave(events, [h for h in hostile if h[3] != "escalated_after_resolution"], 11)
    run.cli("consume", "--once")  # creates the topics
    expected = run.send_raw(mixed)
    run.cli("consume", "--once")
    expected += run.send_raw([(c, k, v, r) for c, k, v, r in later])
    run.cli("consume", "--once")
    outcome = run.outcome("fuzz", events, len(mixed) + len(later), len(hostile))
    got = Counter(snapshot(run.store).letters)
    outcome.wrong_reason = sum((expected - got).values()) + sum((got - expected).values())
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--incidents-per-month", type=int, default=1200)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--outages", type=int, default=2)
    parser.add_argument("--attacks", type=int, default=10_000)
    parser.add_argument("--only", nargs="*", help="crash disorder scale-out pg-outage broker-restart fuzz")
    args = parser.parse_args()
    events = simulate(SimulationSpec(months=args.months, seed=7, start=date(2024, 1, 1),
                                     incidents_per_month=args.incidents_per_month))
    print(f"data set: {len(events):,} events", flush=True)
    schemas = [f"{POSTGRES}?schema=bench_{uuid.uuid4().hex[:10]}" for _ in range(3)]
    scenarios: dict[str, Callable[[str, Path], list[Outcome]]] = {
        "crash": lambda b, w: [crash(b, w, events, args.kills)],
        "disorder": lambda b, w: disorder(b, w, events),
        "scale-out": lambda b, w: [scale_out(b, w, events, max(args.kills // 10, 1), schemas[0])],
        "pg-outage": lambda b, w: [postgres_outage(b, w, events, args.outages, schemas[1])],
        "broker-restart": lambda b, w: [broker_restart(w, events, args.outages, schemas[2])],
        "fuzz": lambda b, w: [fuzz(b, w, events, args.attacks)],
    }
    chosen = args.only or list(scenarios)
    failed = False
    tmp = tempfile.mkdtemp(prefix="ticketstream-reliability-")
    with EmbeddedBroker(log_file=Path(tmp) / "broker.log") as broker:
        try:
            for name in chosen:
                started = time.monotonic()
                try:
                    outcomes = scenarios[name](broker.bootstrap_servers, Path(tmp))
                except Exception as err:  # noqa: BLE001 - report the scenario, go on with the next
                    print(f"{name:<26} ERROR {type(err).__name__}: {err}", flush=True)
                    failed = True
                    continue
                for outcome in outcomes:
                    print(f"{outcome.line()}  ({time.monotonic() - started:.0f} s)", flush=True)
                    failed |= outcome.verdict != "PASS"
        finally:
            for url in schemas:
                drop_schema(url)
    if failed:
        print(f"logs and stores kept in {tmp}")
        sys.exit(1)
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
