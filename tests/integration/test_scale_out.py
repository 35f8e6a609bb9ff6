"""Two consumers in one group share the partitions; killing one mid-ingest changes nothing.

Who stored what is read from the store: every stored batch has a row in the ingest ledger
(the member that stored it and how many events), written in the batch's own transaction.
"""

from __future__ import annotations

import signal
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import POSTGRES_URL, Cli
from testkit.crash import ledger
from testkit.faults import differences, snapshot, stored_count, wait_until
from testkit.read_models import read_models
from tests.integration.test_faults import _log_events, _publish, _start
from ticketstream.event_store import drop_schema


@pytest.fixture
def two_stores() -> Iterator[tuple[str, str]]:
    urls = tuple(f"{POSTGRES_URL}?schema=it_{uuid.uuid4().hex[:12]}" for _ in range(2))
    yield urls  # type: ignore[misc]
    for url in urls:
        drop_schema(url)


def _assignments(log: Path) -> list[int]:
    return [int(str(e["partitions"])) for e in _log_events(log, "partitions_assigned")]


def _assigned(log: Path) -> int:
    return max(_assignments(log), default=0)


def _member(log: Path) -> str:
    """The member id a consumer logged at its start (the one it records in the ledger)."""
    (started,) = _log_events(log, "consume_started")
    return str(started["member"])


def _stored_by(event_store: str, member: str) -> int:
    """How many events the ledger says ``member`` stored."""
    return sum(events for _, who, events in ledger(event_store) if who == member)


@pytest.mark.timeout(600)
def test_two_members_sharing_partitions_with_one_killed_and_restarted_equal_a_clean_run(
    cli: Cli, tmp_path: Path, two_stores: tuple[str, str]
) -> None:
    shared, clean_store = two_stores
    _publish(cli, tmp_path, months=12)
    cli.env["TICKETSTREAM_EVENT_STORE"] = shared
    cli.env["TICKETSTREAM_MAX_POLL_RECORDS"] = "5"  # slow enough for the group to rebalance
    logs = [tmp_path / f"member-{n}.log" for n in ("a", "b", "b-again")]

    first = _start(cli, logs[0], "--once")
    wait_until(lambda: stored_count(shared) > 0, 120, "the first stored batch")
    second = _start(cli, logs[1], "--once")
    wait_until(lambda: _assigned(logs[1]) > 0, 120, "the second member's partitions")
    wait_until(lambda: bool(_log_events(logs[1], "consume_started")), 60, "the second member's start")
    wait_until(lambda: _stored_by(shared, _member(logs[1])) >= 100, 120, "the second member's stored batches")
    second.send_signal(signal.SIGKILL)
    second.wait(timeout=30)
    at_kill_rows = ledger(shared)  # one snapshot: the rows and the events they stored
    before_kill = {row for row, _, _ in at_kill_rows}
    at_kill = sum(events for _, _, events in at_kill_rows)
    restarted = _start(cli, logs[2], "--once")
    assert first.wait(timeout=300) == 0, logs[0].read_text()[-2000:]
    assert restarted.wait(timeout=300) == 0, logs[2].read_text()[-2000:]
    shared_models = read_models(cli.env, cli.cwd)
    clean = Cli({**cli.env, "TICKETSTREAM_EVENT_STORE": clean_store,
                 "TICKETSTREAM_CONSUMER_GROUP": cli.env["TICKETSTREAM_CONSUMER_GROUP"] + "-clean"},
                cli.cwd, cli.topics, cli.bootstrap)
    clean("consume", "--once")

    expected = snapshot(clean_store)
    assert 0 < at_kill < len(expected.events)
    # Really shared: the first member gave up some partitions, the second one took them.
    assert any(0 < n < 20 for n in _assignments(logs[0])), _assignments(logs[0])
    assert 0 < _assigned(logs[1]) < 20, _assignments(logs[1])
    # From the store: every stored event is in one member's batch; each member stored a
    # share; after the kill, the survivor and the restarted member stored the rest.
    survivor, killed, again = (_member(log) for log in logs)
    rows = ledger(shared)
    shares = Counter[str]()
    for _, member, events in rows:
        shares[member] += events
    after = Counter[str]()
    for row, member, events in rows:
        if row not in before_kill:
            after[member] += events
    print(f"\nevents stored per member: {dict(shares)}; after the kill: {dict(after)}")
    assert len({survivor, killed, again}) == 3
    assert sum(shares.values()) == len(expected.events) == stored_count(shared)
    assert set(shares) == {survivor, killed, again} and min(shares.values()) > 0
    assert sum(after.values()) == len(expected.events) - at_kill > 0
    assert set(after) <= {survivor, again} and after[survivor] + after[again] > 0
    assert differences(snapshot(shared), expected) == {}
    assert shared_models == read_models(clean.env, clean.cwd)
