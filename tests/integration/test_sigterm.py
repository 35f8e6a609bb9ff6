"""SIGTERM while a large batch is being applied: the batch completes and its offsets are
stored, the consumer exits 0, and a restart loses and repeats nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.integration.conftest import Cli
from tests.integration.test_faults import _publish
from testkit.faults import snapshot
from testkit.log_lines import log_event


@pytest.mark.timeout(600)
def test_sigterm_mid_batch_finishes_the_batch_and_a_restart_repeats_nothing(cli: Cli, tmp_path: Path) -> None:
    published = _publish(cli, tmp_path, months=4)
    clean = Cli({**cli.env, "TICKETSTREAM_EVENT_STORE": str(tmp_path / "clean.db"),
                 "TICKETSTREAM_CONSUMER_GROUP": cli.env["TICKETSTREAM_CONSUMER_GROUP"] + "-clean"},
                cli.cwd, cli.topics, cli.bootstrap)  # fmt: skip
    clean("consume", "--once")
    env = {**cli.env, "TICKETSTREAM_LOG_LEVEL": "DEBUG", "TICKETSTREAM_MAX_POLL_RECORDS": "500"}
    consumer = subprocess.Popen([sys.executable, "-m", "ticketstream", "consume"], env=env, cwd=cli.cwd,
                                stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)  # fmt: skip
    lines: list[dict[str, object]] = []
    signalled = threading.Event()

    def read() -> None:
        assert consumer.stderr is not None
        for line in consumer.stderr:
            event = log_event(line)
            if event is not None:
                lines.append(event)
                # A batch in the middle of the backlog.
                starts = sum(e["event"] == "batch_started" for e in lines)
                if event["event"] == "batch_started" and starts == 3 and not signalled.is_set():
                    consumer.send_signal(signal.SIGTERM)
                    signalled.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if not signalled.wait(timeout=120):
        consumer.kill()
        raise AssertionError(f"no third batch: {[e['event'] for e in lines][-20:]}")
    assert consumer.wait(timeout=120) == 0
    reader.join(timeout=10)

    names = [str(e["event"]) for e in lines]
    stop = names.index("stop_requested")
    started = max(i for i, n in enumerate(names[:stop]) if n == "batch_started")
    assert "batch_ingested" not in names[started:stop], "the signal landed while a batch was applied"
    assert "batch_ingested" in names[stop:], "that batch was completed after the signal"
    assert "batch_started" not in names[stop:], "and no other batch was begun"
    interrupted = snapshot(cli.env["TICKETSTREAM_EVENT_STORE"])
    assert 0 < len(interrupted.events) < published
    assert sum(o + 1 for o in interrupted.offsets.values()) == sum(
        int(str(e["messages"])) for e in lines if e["event"] == "batch_ingested"
    )  # every message of every completed batch, the interrupted one included, has its offset stored

    cli("consume", "--once")

    final = snapshot(cli.env["TICKETSTREAM_EVENT_STORE"])
    expected = snapshot(str(tmp_path / "clean.db"))
    assert final == expected and len(final.events) == published
    assert sorted(set(final.event_ids)) == final.event_ids  # nothing stored twice
