"""SIGKILL aimed at the phases of an ingest, a messy data set to ingest, and what a store holds
after it: shared by tests/integration/test_crash.py and bench/reliability.py.

A kill is aimed by reading the process's DEBUG JSON log on stderr and sending SIGKILL on the
phase's log event, from the thread that reads it: the process is killed while it goes on with
what it logged it was starting (or just after it finished it).

Phases of `consume` and the log events they are aimed at:
- ``batch``: the k-th ``batch_ingested`` (a batch committed, its dead letters published);
- ``join``: ``partitions_revoked``, which kafka-python's listener gets before every JoinGroup
  (a fresh process's first join too): the kill lands while the group join is under way;
- ``parked_release``: ``parked_events_releasing``, after the k-th batch: parked events are
  applied at last and their batch is about to be stored;
- ``dlq_publish``: ``dead_letters_publishing``, after the k-th batch: stored dead letters
  are being sent to the dead-letter topic and are not yet marked published.
`project` is killed at a random moment after ``projection_batch_started`` (a batch of
notifications is being computed, then written), within the time its batches take.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from consumers.ingest_recorder import IngestTables
from contracts.routing import TopicMap
from domain.application import Incidents
from testkit.arrival_orders import grouped_by_incident
from testkit.hostile_messages import (
    CONTEXT_FREE, World, _event_id_conflict, _second_receipt, interleave,
)  # fmt: skip
from testkit.log_lines import log_event
from ticketstream.event_store import event_store_env, is_postgres

_T = TypeVar("_T")

Event = dict[str, Any]
LogLine = dict[str, object]
Raw = tuple[str, bytes, bytes, str | None]

PHASES = ("batch", "join", "parked_release", "dlq_publish")
_AIMED_AT = {"parked_release": "parked_events_releasing", "dlq_publish": "dead_letters_publishing"}


# --- the data set ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MessyData:
    """A publishing order of raw messages and what it holds."""

    messages: list[Raw]  # (topic key, key, value, reason expected or None), in order
    events: list[Event]  # the valid events, each once
    duplicates: int  # valid events published a second time
    late_orphans: int  # orphans too young to expire: parked at the end


def messy_data(events: Sequence[Event], seed: int, attacks_per_kind: int = 2, duplicates: int = 40) -> MessyData:
    """``events`` grouped by incident (each incident's rows shuffled: many park until their
    receipt comes), ``duplicates`` of them twice, hostile messages of every contract reason,
    second receipts and event_id conflicts (same id, other content) after their originals,
    old orphans (they expire to the dead letters) and young ones (they stay parked)."""
    rng = random.Random(seed)
    doubled = rng.sample(list(events), duplicates)
    world = World(list(events), random.Random(seed + 1), 64 * 1024)
    hostile = [world.attack(a) for a in CONTEXT_FREE for _ in range(attacks_per_kind)]
    hostile += [world.attack(a) for a in (_event_id_conflict, _second_receipt) for _ in range(3 * attacks_per_kind)]
    young = _young_orphans(events, world, attacks_per_kind)
    order = grouped_by_incident([*events, *doubled], rng)
    return MessyData(interleave(order, [*hostile, *young], seed), list(events), duplicates, len(young))


def _young_orphans(events: Sequence[Event], world: World, n: int) -> list[tuple[str, bytes, bytes, str]]:
    """Resolutions of incidents never received, a day before the newest event: not old enough
    to expire (orphan time 7 days), so they are still parked when everything is read."""
    newest = max(str(e["occurred_at"]) for e in events)
    young = []
    for i in range(n):
        at = (_instant(newest) - timedelta(days=1, minutes=i)).isoformat()
        incident = f"LATE-GHOST-{i:04d}"
        event = {"event_id": world.new_id(), "type": "incident.resolved", "schema_version": 1,
                 "incident_id": incident, "occurred_at": at, "source": "store-014",
                 "resolution": "refund"}  # fmt: skip
        young.append(("resolved", incident.encode(), json.dumps(event).encode(), None))
    return young  # type: ignore[return-value]


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- what a store holds ----------------------------------------------------------------------


@dataclass(frozen=True)
class StoreState:
    """What a store holds, each part sorted: equal for equal stores (notification order and
    versions left out, see testkit.faults.StoreSnapshot)."""

    facts: list[tuple[str, str, str]]  # (event id, topic, content digest)
    offsets: dict[str, int]
    # (topic, partition, offset, reason, detail, event id, incident id, status, published, bytes)
    dead_letters: list[tuple[object, ...]]
    parked: list[tuple[object, ...]]  # (event id, incident id, topic, partition, offset, reason, detail)

    @property
    def letters(self) -> Counter[tuple[str, int, int, str]]:
        """The dead letters' coordinates and reasons."""
        return Counter((str(d[0]), int(str(d[1])), int(str(d[2])), str(d[3])) for d in self.dead_letters)


def store_state(event_store: str) -> StoreState:
    """Every stored fact, offset, dead letter and parked event of ``event_store``."""
    app = Incidents(env=event_store_env(event_store))
    try:
        recorder = app.recorder
        assert isinstance(recorder, IngestTables)
        facts = []
        start = 1
        while page := recorder.select_notifications(start, 10_000):
            for n in page:
                state = json.loads(n.state)
                facts.append((str(state["event_id"]), n.topic, str(state["digest"])))
            start = page[-1].id + 1
        letters: list[tuple[object, ...]] = []
        for d in recorder.dead_letters(limit=10_000_000):
            m, c = d.letter.message, d.letter.message.coordinates
            letters.append((c.topic, c.partition, c.offset, d.letter.reason, d.letter.detail,
                            d.letter.event_id, d.letter.incident_id, d.status, d.published, m.value))  # fmt: skip
        parked: list[tuple[object, ...]] = [
            (p.event_id, p.incident_id, p.message.coordinates.topic, p.message.coordinates.partition,
             p.message.coordinates.offset, p.reason, p.detail)
            for p in recorder.parked_events()
        ]  # fmt: skip
        return StoreState(sorted(facts), recorder.stored_offsets(), sorted(letters, key=repr), sorted(parked, key=repr))
    finally:
        app.close()


def ledger(event_store: str) -> list[tuple[int, str, int]]:
    """The ingest ledger: (row id, member, events stored) of every stored batch."""
    return _ask_recorder(event_store, IngestTables.ledger)


def stored_offsets(event_store: str) -> dict[str, int]:
    return _ask_recorder(event_store, IngestTables.stored_offsets)


def _ask_recorder(event_store: str, question: Callable[[IngestTables], _T]) -> _T:
    """One question to the ingest tables of the store, opened for it and closed after."""
    app = Incidents(env=event_store_env(event_store))
    try:
        recorder = app.recorder
        assert isinstance(recorder, IngestTables)
        return question(recorder)
    finally:
        app.close()


def applied(offsets: Mapping[str, int]) -> int:
    """How many messages the offsets account for (every partition starts at 0)."""
    return sum(o + 1 for o in offsets.values())


def dlq_topic_letters(bootstrap: str, topic: str) -> Counter[tuple[str, int, int, str]]:
    """Every message on the dead-letter topic, as (topic, partition, offset, reason) of the
    message it stands for, read back from its headers with kafka-python."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest", consumer_timeout_ms=2000)  # fmt: skip
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        found: Counter[tuple[str, int, int, str]] = Counter()
        deadline = time.monotonic() + 60
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            if time.monotonic() > deadline:
                raise AssertionError(f"the dead-letter topic {topic} was not read to its end")
            for records in consumer.poll(timeout_ms=500).values():
                for r in records:
                    h = {k: v.decode() for k, v in r.headers}
                    found[(h["dlq.topic"], int(h["dlq.partition"]), int(h["dlq.offset"]), h["dlq.reason"])] += 1
        return found
    finally:
        consumer.close()


# --- kills -----------------------------------------------------------------------------------


@dataclass
class Life:
    """One process run until it was killed: its log and what its kill found."""

    phase: str
    lines: list[LogLine] = field(default_factory=list)
    hit: bool = False  # the phase's log event came and the kill was sent on it
    trigger: LogLine | None = None  # that log line
    before: int = 0  # messages applied when it started
    after: int = 0  # … when it was dead
    in_flight: bool | None = None  # the kill landed before the phase's work was stored
    total: int = 1

    @property
    def progress(self) -> int:
        return self.after - self.before

    @property
    def at(self) -> float:
        """Where in the ingest it died, as the share of messages applied."""
        return self.after / self.total

    def names(self) -> list[str]:
        return [str(e.get("event")) for e in self.lines]


def kill_on(
    env: Mapping[str, str], cwd: Path, command: Sequence[str], aim: Callable[[list[LogLine]], bool],
    life: Life, quiet_after: float = 20.0, delay: Callable[[list[LogLine]], float] = lambda lines: 0.0,
) -> Life:
    """Run ``ticketstream COMMAND`` with DEBUG logs; SIGKILL it ``delay(lines)`` seconds after
    ``aim(lines so far)`` is true (``life.hit``; at once by default). If it logs nothing for
    ``quiet_after`` s (the phase never came), it is killed anyway, unaimed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ticketstream", *command],
        env={**env, "TICKETSTREAM_LOG_LEVEL": "DEBUG", "TICKETSTREAM_LOG_FORMAT": "json"}, cwd=cwd,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    heard = [time.monotonic()]
    killed = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            heard[0] = time.monotonic()
            event = log_event(line)
            if event is None:
                continue
            life.lines.append(event)
            if not life.hit and aim(life.lines):
                life.hit, life.trigger = True, life.lines[-1]
                time.sleep(delay(life.lines))
                process.send_signal(signal.SIGKILL)
                killed.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    while process.poll() is None and not killed.is_set() and time.monotonic() - heard[0] < quiet_after:
        time.sleep(0.05)
    if process.poll() is None and not life.hit:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    reader.join(timeout=30)  # what it logged before it died
    return life


def consume_aim(phase: str, after_batches: int) -> Callable[[list[LogLine]], bool]:
    """When to kill `consume` for ``phase``: see the module's docstring."""

    def aim(lines: list[LogLine]) -> bool:
        last = lines[-1].get("event")
        if phase == "join":
            return last == "partitions_revoked"
        batches = sum(e.get("event") == "batch_ingested" for e in lines)
        if phase == "batch":
            return last == "batch_ingested" and batches == after_batches
        return last == _AIMED_AT[phase] and batches >= after_batches

    return aim


def kill_consume(
    env: Mapping[str, str], cwd: Path, phase: str, after_batches: int, total: int,
) -> Life:
    """One `consume` life killed in ``phase`` (after ``after_batches`` batches where that
    applies); what the kill found."""
    store = env["TICKETSTREAM_EVENT_STORE"]
    life = Life(phase, before=applied(stored_offsets(store)), total=total)
    kill_on(env, cwd, ["consume"], consume_aim(phase, after_batches), life)
    offsets = stored_offsets(store)
    life.after = applied(offsets)
    if not life.hit:
        return life
    names = life.names()
    if phase == "join":  # killed before the join gave it partitions
        life.in_flight = "partitions_assigned" not in names[names.index("partitions_revoked"):]
    elif phase == "parked_release":  # killed before the batch that releases them was stored
        assert life.trigger is not None
        to = life.trigger["to"]
        assert isinstance(to, dict)
        life.in_flight = any(offsets.get(k, -1) < v for k, v in to.items())
    elif phase == "dlq_publish":  # killed before they were marked published
        life.in_flight = _unpublished(store) > 0
    return life


def _unpublished(event_store: str) -> int:
    app = Incidents(env=event_store_env(event_store))
    try:
        recorder = app.recorder
        assert isinstance(recorder, IngestTables)
        return len(recorder.dead_letters(unpublished_only=True, limit=1_000_000))
    finally:
        app.close()


def crash_consume(
    env: Mapping[str, str], cwd: Path, kills: int, total: int, batch_size: int, rng: random.Random,
) -> list[Life]:
    """Kill `consume` ``kills`` times, each phase as often (in a shuffled order), at random
    points spread over the whole ingest: each kill that waits for batches waits for a random
    number of them, on average the remaining batches shared among the remaining such kills
    and two more shares (left to the last, unkilled run: a phase's event may come only some
    batches after the k-th)."""
    phases = [PHASES[i % len(PHASES)] for i in range(kills)]
    rng.shuffle(phases)
    lives = []
    for n, phase in enumerate(phases):
        done = applied(stored_offsets(env["TICKETSTREAM_EVENT_STORE"]))
        waiting = sum(p != "join" for p in phases[n:])
        share = (total - done) / batch_size / (waiting + 2)
        after = rng.randint(1, max(1, round(2 * share) - 1))
        lives.append(kill_consume(env, cwd, phase, after, total))
    return lives


def kill_project(
    env: Mapping[str, str], cwd: Path, after_batches: int, rng: random.Random, spread: bool = True,
) -> Life:
    """One `project` life killed in its ``after_batches``-th batch: at its start, or (``spread``)
    at a random moment between its start and half the time its batches took so far (the write
    comes at their end; the first batch of a life is killed at its start).
    ``in_flight``: that batch was not stored (the read model furthest behind is before its end)."""
    store = env["TICKETSTREAM_EVENT_STORE"]

    def aim(lines: list[LogLine]) -> bool:
        return sum(e.get("event") == "projection_batch_started" for e in lines) == after_batches

    def delay(lines: list[LogLine]) -> float:
        starts = [_instant(str(e["timestamp"])) for e in lines if e.get("event") == "projection_batch_started"]
        gaps = sorted((b - a).total_seconds() for a, b in zip(starts, starts[1:]))
        return rng.uniform(0.0, 0.5 * gaps[len(gaps) // 2]) if gaps and spread else 0.0

    life = Life("project", before=projected(store))
    kill_on(env, cwd, ["project"], aim, life, delay=delay)
    life.after = projected(store)
    if life.trigger is not None:
        life.in_flight = life.after < int(str(life.trigger["to"]))
    return life


def crash_project(
    env: Mapping[str, str], cwd: Path, kills: int, notifications: int, batch_size: int, rng: random.Random,
) -> list[Life]:
    """Kill `project` ``kills`` times mid-batch, each after a random number of its batches,
    on average the remaining batches shared among the remaining kills and a last run; every
    second kill at a random moment of its batch, the others at its start.

    Whether a kill lands before its batch is stored is a race. If none did, up to
    ``kills`` more lives are killed at their first batch's start (the slowest batch of a life)
    while two batches or more are left, until one does."""
    store = env["TICKETSTREAM_EVENT_STORE"]
    lives = []
    for n in range(kills):
        share = (notifications - projected(store)) / batch_size / (kills - n + 1)
        lives.append(kill_project(env, cwd, rng.randint(1, max(1, round(2 * share) - 1)), rng, spread=n % 2 == 1))
    for _ in range(kills):
        if any(life.in_flight for life in lives) or notifications - projected(store) < 2 * batch_size:
            break
        lives.append(kill_project(env, cwd, 1, rng, spread=False))
    return lives


def projected(event_store: str) -> int:
    """The position of the read model furthest behind (0 before any)."""
    env = event_store_env(event_store)
    query = "SELECT MIN(notification_id) FROM {}"
    try:
        if is_postgres(event_store):
            table = sql.Identifier(env["POSTGRES_SCHEMA"], "projection_tracking")
            with psycopg.connect(event_store.split("?")[0], connect_timeout=5) as conn:
                row = conn.execute(sql.SQL(query).format(table)).fetchone()
        else:
            with sqlite3.connect(env["SQLITE_DBNAME"]) as db:
                row = db.execute(query.format("projection_tracking")).fetchone()
    except (psycopg.Error, sqlite3.Error):  # not created yet
        return 0
    return int(row[0] or 0) if row else 0


def topics_env(topics: TopicMap) -> dict[str, str]:
    """The CLI's environment naming these topics."""
    return {f"TICKETSTREAM_TOPICS__{name.upper()}": t for name, t in topics.model_dump().items()}
