"""Broker and database outages mid-ingest: consume rides them out, or gives up with one line."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from producers.simulator import SimulationSpec, simulate, write_jsonl
from tests.integration.conftest import POSTGRES_URL, Cli
from testkit.faults import (
    S3Server,
    TcpForwarder,
    snapshot,
    stored_count,
    wait_until,
)
from testkit.log_lines import log_event
from ticketstream.embedded_broker import EmbeddedBroker
from ticketstream.event_store import drop_schema

OUTAGE_SECONDS = 10


@pytest.fixture
def schemas() -> Iterator[list[str]]:
    """Fresh PostgreSQL event-store URLs on demand (``new_schema``), dropped afterwards."""
    made: list[str] = []
    yield made
    for url in made:
        drop_schema(url)


def _new_schema(made: list[str], port: int = 5432) -> tuple[str, str]:
    """(URL through ``port``, the same schema's direct URL)."""
    schema = f"it_{uuid.uuid4().hex[:12]}"
    direct = f"{POSTGRES_URL}?schema={schema}"
    made.append(direct)
    return direct.replace(":5432/", f":{port}/"), direct


def _publish(cli: Cli, tmp_path: Path, months: int = 6) -> int:
    events = simulate(SimulationSpec(months=months, seed=33, start=date(2025, 1, 1)))
    path = tmp_path / "events.jsonl"
    with path.open("w") as stream:
        write_jsonl(events, stream)
    cli("publish", str(path))
    return len(events)


def _start(cli: Cli, log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "ticketstream", "consume", *args],
            env=cli.env, cwd=cli.cwd, stdout=subprocess.DEVNULL, stderr=stderr,
        )


def _log_events(log: Path, name: str) -> list[dict[str, object]]:
    events = (log_event(line) for line in log.read_text().splitlines())
    return [e for e in events if e is not None and e.get("event") == name]


def _clean_run(cli: Cli, event_store: str) -> None:
    clean = Cli({**cli.env, "TICKETSTREAM_EVENT_STORE": event_store,
                 "TICKETSTREAM_CONSUMER_GROUP": cli.env["TICKETSTREAM_CONSUMER_GROUP"] + "-clean"},
                cli.cwd, cli.topics, cli.bootstrap)
    clean("consume", "--once")


def _assert_retries_logged(log: Path, error_classes: set[str]) -> None:
    retries = _log_events(log, "outage_retry_scheduled")
    assert retries, "no retry was logged"
    assert {r["error"] for r in retries} & error_classes, retries
    assert all(float(str(r["next_delay"])) > 0 for r in retries)
    assert _log_events(log, "outage_recovered")


@pytest.mark.timeout(600)
def test_a_broker_killed_and_restarted_mid_ingest_loses_and_duplicates_nothing(
    cli: Cli, broker: str, tmp_path: Path, schemas: list[str]
) -> None:
    s3 = S3Server(tmp_path / "s3.log")
    durable = s3.broker(s3.bucket("tansu"), tmp_path / "durable-broker.log")
    durable.start()
    faulted = Cli({**cli.env, "KAFKA_BOOTSTRAP_SERVERS": durable.bootstrap_servers},
                  cli.cwd, cli.topics, durable.bootstrap_servers)
    faulted.env["TICKETSTREAM_EVENT_STORE"], store = _new_schema(schemas)
    faulted.env["TICKETSTREAM_MAX_POLL_RECORDS"] = "10"
    try:
        published = _publish(faulted, tmp_path)
        _publish(cli, tmp_path)  # the same data on the module's broker, for the clean run
        _, clean_store = _new_schema(schemas)
        _clean_run(cli, clean_store)
        clean = snapshot(clean_store)
        log = tmp_path / "consume.log"
        # Not --once: Tansu's S3 engine answers ListOffsets(latest) wrongly (always 1), so
        # the end of the topics is known from the clean run instead.
        consumer = _start(faulted, log)

        wait_until(lambda: stored_count(store) > 0, 120, "the first stored batch")
        durable.stop(kill=True)
        at_kill = stored_count(store)
        time.sleep(OUTAGE_SECONDS)
        durable.start()  # same port, same bucket
        wait_until(lambda: stored_count(store) >= len(clean.events), 300, "the rest of the data")
        wait_until(lambda: snapshot(store).offsets == clean.offsets, 60, "the last offsets")
        consumer.send_signal(signal.SIGTERM)
        assert consumer.wait(timeout=60) == 0
    finally:
        durable.stop()
        s3.stop()

    assert 0 < at_kill < published
    faulted_store = snapshot(store)
    assert faulted_store.facts == clean.facts
    assert sorted(set(faulted_store.event_ids)) == faulted_store.event_ids  # no duplicates
    assert faulted_store.letters == clean.letters
    _assert_retries_logged(log, {"BrokerUnavailable"})


@pytest.mark.timeout(600)
def test_postgresql_refusing_connections_for_ten_seconds_mid_ingest_changes_nothing(
    cli: Cli, tmp_path: Path, schemas: list[str]
) -> None:
    _publish(cli, tmp_path)
    forwarder = TcpForwarder(("127.0.0.1", 5432))
    through_forwarder, store = _new_schema(schemas, forwarder.port)
    _, clean_store = _new_schema(schemas)
    cli.env["TICKETSTREAM_EVENT_STORE"] = through_forwarder
    cli.env["TICKETSTREAM_MAX_POLL_RECORDS"] = "10"
    log = tmp_path / "consume.log"
    try:
        consumer = _start(cli, log, "--once")

        wait_until(lambda: stored_count(store) > 0, 120, "the first stored batch")
        forwarder.refuse()
        at_outage = stored_count(store)
        time.sleep(OUTAGE_SECONDS)
        after_outage = stored_count(store)
        forwarder.accept()
        assert consumer.wait(timeout=300) == 0, log.read_text()[-3000:]
    finally:
        forwarder.close()
    _clean_run(cli, clean_store)

    clean = snapshot(clean_store)
    assert 0 < at_outage == after_outage < len(clean.events)
    assert snapshot(store) == clean
    _assert_retries_logged(log, {"OperationalError", "InterfaceError"})


@pytest.mark.timeout(300)
def test_consume_gives_up_with_one_line_when_the_broker_stays_away(
    cli: Cli, tmp_path: Path
) -> None:
    own = EmbeddedBroker(log_file=tmp_path / "own-broker.log")
    own.start()
    cli = Cli({**cli.env, "KAFKA_BOOTSTRAP_SERVERS": own.bootstrap_servers},
              cli.cwd, cli.topics, own.bootstrap_servers)
    cli.env["TICKETSTREAM_MAX_POLL_RECORDS"] = "10"
    cli.env["TICKETSTREAM_GIVE_UP_AFTER_SECONDS"] = "8"
    cli.env["TICKETSTREAM_RETRY_MAX_DELAY_SECONDS"] = "1"
    store = str(tmp_path / "events.db")
    log = tmp_path / "consume.log"
    try:
        _publish(cli, tmp_path, months=2)
        consumer = _start(cli, log)
        wait_until(lambda: stored_count(store) > 0, 120, "the first stored batch")
        own.stop(kill=True)
        code = consumer.wait(timeout=180)
    finally:
        own.stop()

    errors = [line for line in log.read_text().splitlines() if not line.startswith("{")]
    assert code == 3
    assert len(errors) == 1, errors
    assert errors[0].startswith("ticketstream: error: gave up polling kafka after ")
    assert "BrokerUnavailable" in errors[0]
    assert len(_log_events(log, "outage_retry_scheduled")) >= 2
