"""Hostile traffic through the ingest step: every attack is dead-lettered with its specific
reason, every valid event is applied exactly once, and the step never fails."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from datetime import timedelta
from functools import cache
from itertools import pairwise
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from testkit.hostile_messages import Event, hostile_messages, interleave
from consumers.ingest import Ingest, IngestOptions
from consumers.records import Message
from contracts.codec import decode
from contracts.errors import ContractError
from contracts.routing import TopicMap
from domain.incident import Incident
from producers.simulator import SimulationSpec, simulate
from tests.hostile import hostile_mixes, live_code_labels, nasty_texts
from tests.unit.test_ingest import Feed, open_app, store, stored_events

TOPICS = TopicMap()


@cache
def _month() -> tuple[Event, ...]:
    return tuple(simulate(SimulationSpec(months=1, seed=4, incidents_per_month=40)))


def _tick(events: tuple[Event, ...]) -> Event:
    """A valid standalone thanks two months after the traffic: it moves the watermark past
    every attack, so each parked one reaches the dead letters."""
    last = max(e["occurred_at"] for e in events if e["type"] == "incident.received")
    return {
        "event_id": "7" * 8 + "-7777-4777-8777-" + "7" * 12, "type": "incident.thanked",
        "schema_version": 1, "incident_id": "TICK-1", "source": "callcentre",
        "occurred_at": last[:4] + "-12-31T12:00:00+00:00", "channel": "phone", "standalone": True,
    }  # fmt: skip


def _run(
    valid: list[Event], mix: list[tuple[str, bytes, bytes, str | None]], cuts: list[int]
) -> tuple[Counter[tuple[str, int, int, str]], Counter[tuple[str, int, int, str]], list[tuple[str, str]], int]:
    feed = Feed()
    messages: list[Message] = []
    expected: Counter[tuple[str, int, int, str]] = Counter()
    for concern, key, value, reason in mix:
        message = feed.raw(value, getattr(TOPICS, concern), key)
        messages.append(message)
        if reason is not None:
            c = message.coordinates
            expected[(c.topic, c.partition, c.offset, reason)] += 1
    bounds = [0, *sorted(c for c in cuts if c < len(messages)), len(messages)]
    with tempfile.TemporaryDirectory() as directory:
        app = open_app(Path(directory) / "e.db")
        ingest = Ingest(app, IngestOptions(orphan_after=timedelta(days=7)))
        for a, b in pairwise(bounds):
            ingest.process(messages[a:b], read_to_end=lambda: True)
        letters = Counter(
            (c.topic, c.partition, c.offset, stored.letter.reason)
            for stored in store(app).dead_letters()
            for c in [stored.letter.message.coordinates]
        )
        events = stored_events(app)
        parked = len(store(app).parked_events())
        app.close()
    return expected, letters, events, parked


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_every_attack_is_dead_lettered_with_its_reason_and_every_valid_event_applied_once(
    data: st.DataObject,
) -> None:
    month = _month()
    valid = [dict(e) for e in month]
    for event in valid:
        if event["type"] == "incident.received" and data.draw(st.integers(0, 9)) == 0:
            event["summary"] = data.draw(nasty_texts())
            event["category"] = data.draw(live_code_labels())
        if event["type"] == "incident.resolved" and data.draw(st.integers(0, 9)) == 0:
            event["root_cause"] = data.draw(live_code_labels())
    attacks = data.draw(hostile_mixes(month))
    mix = interleave([*valid, _tick(month)], attacks, data.draw(st.integers(0, 2**16)))
    cuts = data.draw(st.lists(st.integers(1, len(mix)), max_size=8, unique=True))

    expected, letters, events, parked = _run(valid, mix, cuts)

    assert letters == expected
    assert parked == 0
    assert Counter(event_id for _, event_id in events) == Counter(
        str(e["event_id"]) for e in [*valid, _tick(month)]
    )


def test_the_seeded_generator_exercises_every_reason_and_is_reproducible() -> None:
    month = list(_month())

    first, again = hostile_messages(250, 9, month), hostile_messages(250, 9, month)

    assert first == again
    assert {reason for *_, reason in first} == {
        "not_json", "not_an_object", "missing_type", "unknown_type", "unsupported_schema_version",
        "schema_violation", "oversized", "key_mismatch", "already_received", "already_resolved",
        "escalated_after_resolution", "rated_before_resolution", "not_paused",
        "standalone_thanks_is_closed", "orphan", "event_id_conflict", "closed_while_open",
        "already_closed", "incident_closed",
    }  # fmt: skip


def test_a_seeded_mix_of_250_attacks_ends_exactly_as_expected() -> None:
    month = list(_month())
    mix = interleave([*month, _tick(_month())], hostile_messages(250, 9, month), 3)

    expected, letters, events, parked = _run(month, mix, cuts=[100, 400, 401, 900])

    assert letters == expected
    assert (parked, len(events)) == (0, len(month) + 1)


def test_hostile_looking_text_in_a_valid_event_is_stored_verbatim() -> None:
    feed = Feed()
    summary = "<script>alert(1)</script>'; DROP TABLE stored_events; --\u202e\ufeff"
    received = {**_month()[0], "summary": summary}
    assert received["type"] == "incident.received"
    with tempfile.TemporaryDirectory() as directory:
        app = open_app(Path(directory) / "e.db")

        Ingest(app).process([feed(received)])

        [stored] = app.history(str(received["incident_id"]))
        assert isinstance(stored, Incident.Received)
        assert stored.summary == summary
        app.close()


def test_the_catalogue_sends_control_and_invisible_characters_in_identifiers_of_every_kind() -> None:
    month = list(_month())

    refused = []
    for _, key, value, reason in hostile_messages(400, 13, month):
        try:
            decode(value, key=key)
        except ContractError as err:
            if "printable" in err.detail:
                refused.append((reason, err.reason, err.detail.split(":")[0]))

    assert {(expected, got) for expected, got, _ in refused} == {("schema_violation",) * 2}
    assert len({field for *_, field in refused}) >= 5
