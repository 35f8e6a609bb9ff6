"""Any arrival order of one data set gives the same stored facts, timelines and read models.

The orders are those real traffic has: time order, a history export grouped by incident with
each incident's rows out of order, whole topics reversed (every early event parks), a shuffle
across topics and partitions, and everything twice; each split into batches anywhere, with the
consumer told that everything is read only once it is.
"""

from __future__ import annotations

import json
import tempfile
import zlib
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from random import Random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.ingest import Ingest, IngestOptions
from consumers.records import Coordinates, Message
from contracts.routing import TopicMap
from domain.application import Incidents
from domain.incident import Incident
from projections.runner import ProjectionRunner
from tests.unit.histories import Event, data_sets
from ticketstream.assembly import ingest_recorder, read_models
from ticketstream.event_store import event_store_env
from ticketstream.settings import load_settings

TOPICS = TopicMap()
PARTITIONS = 2


def arrival_orders(events: list[Event], rng: Random) -> dict[str, list[Event]]:
    """The publishing orders of one data set that real traffic has."""
    in_time = sorted(events, key=lambda e: datetime.fromisoformat(e["occurred_at"]))
    by_incident: dict[str, list[Event]] = {}
    for event in events:
        by_incident.setdefault(event["incident_id"], []).append(event)
    grouped = []
    for incident_id in sorted(by_incident, reverse=True):
        rows = list(by_incident[incident_id])
        rng.shuffle(rows)  # an export's record times out of order
        grouped += rows
    topics = list(reversed(TOPICS.incident_topics))
    reversed_topics = [e for t in topics for e in reversed(in_time) if _topic(e) == t]
    shuffled = list(events)
    rng.shuffle(shuffled)
    return {
        "time_order": in_time,
        "grouped_by_incident": grouped,
        "topics_reversed": reversed_topics,
        "shuffled": shuffled,
        "twice": in_time + shuffled,
    }


def _topic(event: Event) -> str:
    return TOPICS.topic_for(event["type"])


def messages_of(events: Sequence[Event]) -> list[Message]:
    """The events as a broker hands them out: keyed partitions, offsets in publishing order."""
    offsets: Counter[tuple[str, int]] = Counter()
    messages = []
    for event in events:
        key = event["incident_id"].encode()
        topic, partition = _topic(event), zlib.crc32(key) % PARTITIONS
        messages.append(
            Message(Coordinates(topic, partition, offsets[topic, partition]), key,
                    json.dumps(event).encode())
        )  # fmt: skip
        offsets[topic, partition] += 1
    return messages


Outcome = dict[str, Any]


def outcome_of(batches: Sequence[Sequence[Message]]) -> tuple[Outcome, Counter[str]]:
    """What the store and every read model hold after ingesting the batches, and the counts."""
    counts: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "events.db"
        app = Incidents(env=event_store_env(str(path)))
        ingest = Ingest(app, IngestOptions())
        for number, batch in enumerate(batches, 1):
            last = number == len(batches)
            result = ingest.process(batch, read_to_end=lambda last=last: last)  # type: ignore[misc]
            counts.update(parked=result.parked, duplicates=result.duplicates)
        ingest.process([], read_to_end=lambda: True)
        outcome = _stored(app)
        runner = ProjectionRunner(app, read_models(load_settings(event_store=str(path)), app))
        runner.catch_up()
        with runner.transaction(commit=False) as c:
            for model in runner.read_models.values():
                for table in model.tables:
                    c.execute(f"SELECT * FROM {table}")
                    outcome[table] = sorted(map(repr, map(tuple, c.fetchall())))
        app.close()
    return outcome, counts


def _stored(app: Incidents) -> Outcome:
    recorder = ingest_recorder(app)
    facts, timelines = set(), {}
    for notification in app.recorder.select_notifications(start=None, limit=10**6):
        event = app.mapper.to_domain_event(notification)
        assert isinstance(event, Incident.Event)
        facts.add((event.originator_id, event.event_id, event.digest))
    app.forget_cached()
    for incident_id in sorted({incident_id for incident_id, _, _ in facts}):
        incident = app.find(incident_id)
        assert incident is not None
        timelines[incident_id] = ([e.event_id for e in incident.timeline], incident.status)
    letters = sorted((s.letter.event_id or "", s.letter.reason) for s in recorder.dead_letters())
    parked = sorted(p.event_id for p in recorder.parked_events())
    return {"facts": facts, "timelines": timelines, "letters": letters, "parked": parked}


def _in_batches(messages: list[Message], cuts: list[int]) -> list[list[Message]]:
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(messages)}), len(messages)]
    return [messages[a:b] for a, b in pairwise(bounds)]


@settings(max_examples=60)
@given(data_sets(), st.randoms(use_true_random=False), st.lists(st.integers(1, 80), max_size=6))
def test_every_arrival_order_stores_the_same_facts_and_read_models(
    events: list[Event], rng: Random, cuts: list[int]
) -> None:
    orders = arrival_orders(events, rng)

    results = {}
    for name, order in orders.items():
        messages = messages_of(order)
        # A batch ends before the first receipt: what arrived earlier has to wait, parked.
        receipts = [n for n, m in enumerate(messages) if m.coordinates.topic == TOPICS.received]
        results[name] = outcome_of(_in_batches(messages, [*cuts, receipts[0]]))

    expected, _ = results["time_order"]
    assert len(expected["facts"]) == len(events)
    # ...and that order is the one the facts happened in (what the sequence or validity said).
    happened: dict[str, list[str]] = {}
    for event in events:
        happened.setdefault(event["incident_id"], []).append(event["event_id"])
    assert {i: ids for i, (ids, _) in expected["timelines"].items()} == happened
    assert (expected["letters"], expected["parked"]) == ([], [])  # nothing valid refused
    for name, (outcome, _) in results.items():
        assert outcome == expected, name
    # The proof reached the paths it proves: early events parked, repeats seen as repeats.
    if any(not e["type"].endswith(("received", "thanked")) for e in events):
        assert results["topics_reversed"][1]["parked"] > 0
    assert results["twice"][1]["duplicates"] >= len(events)


def shared_outcome(members: Sequence[Sequence[Sequence[Message]]], turns: Sequence[int]) -> Outcome:
    """What one store holds after group members, each with its own Ingest (and cache), took
    turns with their batches (``turns`` names whose batch comes next; leftovers come after),
    then, idle as running members are once everything is read, tried their waiting events
    again in turn until a round releases nothing (one member's release can be what another's
    waiting event waits for)."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "events.db"
        apps = [Incidents(env=event_store_env(str(path))) for _ in members]
        ingests = [Ingest(app, IngestOptions()) for app in apps]
        queues = [list(batches) for batches in members]
        order = [t % len(members) for t in turns] + [m for m, q in enumerate(queues) for _ in q]
        for member in order:
            if queues[member]:
                ingests[member].process(queues[member].pop(0), read_to_end=lambda: False)
        for _ in range(len(ingests) * 20):
            idle = []
            for ingest in ingests:
                ingest.refresh_stream_times()
                idle.append(ingest.process([], read_to_end=lambda: True))
            if not any(r.unparked or r.applied for r in idle):
                break
        outcome = _stored(apps[0])
        for app in apps:
            app.close()
    return outcome


@settings(max_examples=40)
@given(
    data_sets(), st.randoms(use_true_random=False), st.lists(st.integers(1, 40), max_size=6),
    st.lists(st.integers(0, 1), max_size=30),
)
def test_two_group_members_sharing_the_topics_store_what_one_consumer_stores(
    events: list[Event], rng: Random, cuts: list[int], turns: list[int]
) -> None:
    # One member reads the receipts' and resolutions' topics, the other the rest: every
    # incident has two writers, each with its own cached incidents (issue 14's scale-out).
    expected, _ = outcome_of([messages_of(sorted(events, key=lambda e: datetime.fromisoformat(e["occurred_at"])))])
    assert len(expected["facts"]) == len(events) and expected["parked"] == []
    first_topics = {TOPICS.received, TOPICS.resolved}
    for name, order in arrival_orders(events, rng).items():
        messages = messages_of(order)
        shares = [[m for m in messages if (m.coordinates.topic in first_topics) == mine] for mine in (True, False)]
        outcome = shared_outcome([_in_batches(share, cuts) for share in shares], turns)
        assert {k: outcome[k] for k in ("facts", "timelines", "letters", "parked")} == {
            k: expected[k] for k in ("facts", "timelines", "letters", "parked")
        }, name
