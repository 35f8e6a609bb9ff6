"""Two consumers in one group share the partitions; killing one mid-ingest changes nothing."""

from __future__ import annotations

import json
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import POSTGRES_URL, Cli
from testkit.faults import differences, snapshot, stored_count, wait_until
from tests.integration.test_faults import _log_events, _publish, _start
from ticketstream.event_store import drop_schema

REPORTS = ("channels", "dynamics", "thanks")


@pytest.fixture
def two_stores() -> Iterator[tuple[str, str]]:
    urls = tuple(f"{POSTGRES_URL}?schema=it_{uuid.uuid4().hex[:12]}" for _ in range(2))
    yield urls  # type: ignore[misc]
    for url in urls:
        drop_schema(url)


def read_models(cli: Cli) -> dict[str, object]:
    """Every report, as JSON, after projecting the whole store (SLA clock by clock)."""
    cli("project", "--once")
    models: dict[str, object] = {
        name: json.loads(cli("report", name, "--format", "json", "--to", "2026-12").stdout)
        for name in REPORTS
    }
    sla = cli("report", "sla", "--list", "--as-of", "2026-12-31", "--format", "json").stdout
    models["sla"] = sorted(json.loads(sla), key=lambda r: (r["incident_id"], r["clock"], r["cycle"]))
    return models


def _assignments(log: Path) -> list[int]:
    return [int(str(e["partitions"])) for e in _log_events(log, "partitions_assigned")]


def _assigned(log: Path) -> int:
    return max(_assignments(log), default=0)


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
    progress = stored_count(shared)
    wait_until(lambda: stored_count(shared) > progress + 100, 120, "more stored batches")
    second.send_signal(signal.SIGKILL)
    second.wait(timeout=30)
    at_kill = stored_count(shared)
    restarted = _start(cli, logs[2], "--once")
    assert first.wait(timeout=300) == 0, logs[0].read_text()[-2000:]
    assert restarted.wait(timeout=300) == 0, logs[2].read_text()[-2000:]
    shared_models = read_models(cli)
    clean = Cli({**cli.env, "TICKETSTREAM_EVENT_STORE": clean_store,
                 "TICKETSTREAM_CONSUMER_GROUP": cli.env["TICKETSTREAM_CONSUMER_GROUP"] + "-clean"},
                cli.cwd, cli.topics, cli.bootstrap)
    clean("consume", "--once")

    expected = snapshot(clean_store)
    assert 0 < at_kill < len(expected.events)
    # Really shared: the first member gave up some partitions, the second one took them.
    assert any(0 < n < 20 for n in _assignments(logs[0])), _assignments(logs[0])
    assert 0 < _assigned(logs[1]) < 20, _assignments(logs[1])
    assert differences(snapshot(shared), expected) == {}
    assert shared_models == read_models(clean)
