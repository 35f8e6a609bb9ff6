"""kill -9 in every phase of a messy ingest, and of its projection: the store ends up as a
clean run's — facts, offsets, dead letters (table and topic), parked events, read models."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from producers.simulator import SimulationSpec, simulate
from tests.integration.conftest import Cli
from testkit.crash import PHASES, applied, crash_consume, crash_project, dlq_topic_letters, messy_data, store_state
from testkit.hostile_messages import publish_raw
from testkit.read_models import read_models

KILLS = 20
BATCH = 5  # messages per batch: many transactions to land in
PROJECT_KILLS = 5
PROJECT_BATCH = 50  # notifications per projection batch


@pytest.mark.timeout(900)
def test_killing_consume_in_every_phase_and_project_mid_batch_gives_a_clean_runs_store(
    cli: Cli, tmp_path: Path
) -> None:
    data = messy_data(simulate(SimulationSpec(months=3, seed=21, start=date(2025, 1, 1))), seed=21)
    cli("consume", "--once")  # creates the topics
    expected_letters = publish_raw(cli.bootstrap, lambda c: str(getattr(cli.topics, c)), data.messages)
    total = len(data.messages)
    env = {**cli.env, "TICKETSTREAM_MAX_POLL_RECORDS": str(BATCH), "TICKETSTREAM_PROJECT_BATCH_SIZE": str(PROJECT_BATCH)}
    clean_env = {**env, "TICKETSTREAM_EVENT_STORE": str(tmp_path / "clean.db"),
                 "TICKETSTREAM_CONSUMER_GROUP": env["TICKETSTREAM_CONSUMER_GROUP"] + "-clean",
                 "TICKETSTREAM_TOPICS__DLQ": cli.topics.dlq + "-clean"}  # fmt: skip
    rng = random.Random(5)

    lives = crash_consume(env, cli.cwd, KILLS, total, BATCH, rng)
    Cli(env, cli.cwd, cli.topics, cli.bootstrap)("consume", "--once")
    Cli(clean_env, cli.cwd, cli.topics, cli.bootstrap)("consume", "--once")
    crashed, clean = store_state(env["TICKETSTREAM_EVENT_STORE"]), store_state(clean_env["TICKETSTREAM_EVENT_STORE"])
    projects = crash_project(env, cli.cwd, PROJECT_KILLS, len(crashed.facts), PROJECT_BATCH, rng)
    crashed_models, clean_models = read_models(env, cli.cwd), read_models(clean_env, cli.cwd)
    on_topic = dlq_topic_letters(cli.bootstrap, cli.topics.dlq)

    hits = Counter(life.phase for life in lives if life.hit)
    in_flight = Counter(life.phase for life in lives if life.in_flight)
    print(f"\nkills per phase: {dict(hits)}; landed before the phase's work was stored: {dict(in_flight)};"
          f" died at {[round(life.at, 2) for life in lives]} of {total} messages;"
          f" dead-letter topic: {sum(on_topic.values())} messages for {len(on_topic)} letters;"
          f" project kills mid-batch: {sum(bool(p.in_flight) for p in projects)} of {len(projects)}")  # fmt: skip
    # Every kill was aimed and landed: its phase came, and a batch kill found batches stored.
    assert all(life.hit for life in lives), [(life.phase, life.names()[-5:]) for life in lives if not life.hit]
    assert all(life.progress > 0 for life in lives if life.phase == "batch")
    assert set(hits) == set(PHASES) and min(hits.values()) >= KILLS // len(PHASES)
    # Killed inside the phase: while joining (before partitions were assigned), before the
    # releasing batch was stored, before the letters sent were marked published.
    assert all(in_flight[phase] > 0 for phase in ("join", "parked_release", "dlq_publish")), in_flight
    # Spread over the whole ingest: deaths in every quarter of it, none after its end.
    assert {int(4 * life.at) for life in lives} >= {0, 1, 2, 3}, [life.at for life in lives]
    assert max(life.after for life in lives) < total
    # The data was messy, and its mess reached every path.
    assert sum(e.get("event") == "event_parked" for life in lives for e in life.lines) > 0
    assert crashed.letters and {"event_id_conflict", "already_received", "orphan"} <= {r for *_, r in crashed.letters}
    # The end state is the clean run's, and the clean run is right.
    assert crashed == clean
    assert [f[0] for f in crashed.facts] == sorted(str(e["event_id"]) for e in data.events)
    assert applied(crashed.offsets) == total
    assert crashed.letters == expected_letters  # each with its own reason at its own offset
    assert all(d[8] for d in crashed.dead_letters)  # marked published
    assert len(crashed.parked) == data.late_orphans > 0
    # The dead-letter topic holds every letter at least once, and nothing else.
    assert set(on_topic) == set(crashed.letters)
    # project killed mid-batch: the read models equal the clean run's, every dimension.
    assert all(p.hit for p in projects)
    assert max(p.after for p in projects) < len(crashed.facts)
    assert crashed_models == clean_models
    assert any(p.in_flight for p in projects), "no project kill landed before its batch was stored"
    departments, clocks = crashed_models["departments"], crashed_models["sla:clocks"]
    assert isinstance(departments, list) and len(departments) > 1 and isinstance(clocks, list) and clocks
