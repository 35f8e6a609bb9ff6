"""Stores for the report benchmark: simulated traffic ingested and projected, cached on disk.

A store of N events is the first N events (in time) of one simulation: the same seed and the
same incidents per month, only more months. So two stores of different sizes hold the same
events up to the earlier one's end, and a question about months well before that end has the
same answer in both. Built through the ingest application (no Kafka), then projected; kept
under ``var/bench/`` keyed by its parameters, so a rerun opens it at once.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from consumers.ingest import Ingest
from consumers.records import Coordinates, Message
from contracts.routing import TopicMap
from producers.simulator import SimulationSpec, simulate
from ticketstream import assembly
from ticketstream.settings import Settings, load_settings

CACHE = Path("var/bench")
# Bumped when what a store holds changes (its read models' tables).
LAYOUT = 1
_BATCH = 10_000


def store_settings(events: int, seed: int, per_month: int) -> Settings:
    """The settings of the cached store of these parameters (built if missing)."""
    path = CACHE / f"reports-{events}-s{seed}-m{per_month}-v{LAYOUT}.db"
    settings = load_settings(event_store=str(path), state_dir=CACHE)
    if not path.exists():
        _build(settings, path, events, seed, per_month)
    # Read models of a newer version may add indexes: their runner creates what is missing.
    runner = assembly.projection_runner(settings, assembly.open_incidents(settings))
    runner.catch_up()
    return settings


def _build(settings: Settings, path: Path, events: int, seed: int, per_month: int) -> None:
    started = time.perf_counter()
    lines = _events(events, seed, per_month)
    print(f"  building {path}: {len(lines):,} events generated in {time.perf_counter() - started:.0f} s")
    partial = path.with_suffix(".building")
    for leftover in path.parent.glob(partial.name + "*"):
        leftover.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    building = settings.model_copy(update={"event_store": str(partial)})
    app = assembly.open_incidents(building)
    step = Ingest(app)
    for start in range(0, len(lines), _BATCH):
        step.process(lines[start : start + _BATCH])
    print(f"  ingested in {time.perf_counter() - started:.0f} s")
    runner = assembly.projection_runner(building, app)
    runner.catch_up()
    print(f"  projected in {time.perf_counter() - started:.0f} s")
    app.close()
    for suffix in ("-wal", "-shm"):
        Path(str(partial) + suffix).unlink(missing_ok=True)
    partial.rename(path)


def _events(count: int, seed: int, per_month: int) -> list[Message]:
    """The first ``count`` events of the simulation, as messages on one partition per topic."""
    months = 12
    while True:
        events = simulate(SimulationSpec(months=months, seed=seed, incidents_per_month=per_month))
        if len(events) >= count:
            break
        months = math.ceil(months * count / len(events)) + 1
    topics = TopicMap()
    offsets: dict[str, int] = {}
    messages = []
    for event in events[:count]:
        topic = topics.topic_for(str(event["type"]))
        offsets[topic] = offsets.get(topic, -1) + 1
        value = json.dumps(event, separators=(",", ":")).encode()
        messages.append(Message(Coordinates(topic, 0, offsets[topic]), str(event["incident_id"]).encode(), value))
    return messages
