"""`ticketstream broker` on a fresh checkout: it starts, other commands find it, a signal stops it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

STOP_SECONDS = 2.0


def _env() -> dict[str, str]:
    """The environment of a new user: no Kafka configured, state in ./var (absent)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKETSTREAM_")}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    return {**env, "TICKETSTREAM_LOG_FORMAT": "json"}


def _ticketstream(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ticketstream", *args],
        env=_env(), cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


class RunningBroker:
    """A `ticketstream broker` process that has announced itself, and its Tansu child."""

    def __init__(self, cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ticketstream", "broker"],
            env=_env(), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            start_new_session=True,  # its own process group, as a terminal gives a command
        )  # fmt: skip
        assert self.process.stdout is not None
        self.announcement = self.process.stdout.readline()
        state = json.loads((cwd / "var" / "broker.json").read_text())
        self.tansu_pid, self.bootstrap = int(state["pid"]), str(state["bootstrap"])

    def stopped_within(self, seconds: float) -> bool:
        try:
            self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return False
        return True


@pytest.fixture
def running_broker(tmp_path: Path) -> Iterator[RunningBroker]:
    broker = RunningBroker(tmp_path)
    yield broker
    if broker.process.poll() is None:
        broker.process.kill()
        broker.process.wait(timeout=10)
    if _alive(broker.tansu_pid):
        os.kill(broker.tansu_pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


SIGNALS: dict[str, Callable[[subprocess.Popen[str]], None]] = {
    "SIGTERM to its PID": lambda p: p.send_signal(signal.SIGTERM),
    "SIGINT to its PID": lambda p: p.send_signal(signal.SIGINT),
    "Ctrl-C (SIGINT to its process group)": lambda p: os.killpg(p.pid, signal.SIGINT),
}


@pytest.mark.parametrize("send", SIGNALS.values(), ids=SIGNALS.keys())
def test_the_broker_starts_on_a_fresh_checkout_and_a_signal_stops_it_within_two_seconds(
    running_broker: RunningBroker, tmp_path: Path, send: Callable[[subprocess.Popen[str]], None]
) -> None:
    assert "embedded broker listening on" in running_broker.announcement
    assert _alive(running_broker.tansu_pid)

    send(running_broker.process)

    assert running_broker.stopped_within(STOP_SECONDS)
    assert running_broker.process.returncode == 0
    assert _gone_within(running_broker.tansu_pid, 0.5)
    assert not (tmp_path / "var" / "broker.json").exists()


def test_publish_and_consume_find_the_running_broker_without_configuration(
    running_broker: RunningBroker, tmp_path: Path
) -> None:
    _ticketstream(tmp_path, "simulate", "--months", "1", "-o", "month.jsonl")
    events = len((tmp_path / "month.jsonl").read_text().splitlines())

    published = _ticketstream(tmp_path, "publish", "month.jsonl")
    consumed = _ticketstream(tmp_path, "consume", "--once")

    assert published.returncode == 0, published.stderr
    assert f"published {events} events" in published.stdout
    assert consumed.returncode == 0, consumed.stderr
    summary = " ".join(consumed.stdout.split())  # the console wraps long lines
    assert f"{events} events applied" in summary
    assert "0 still parked, 0 dead-lettered" in summary


def test_publish_embedded_uses_a_private_broker_and_leaves_none_behind(tmp_path: Path) -> None:
    _ticketstream(tmp_path, "simulate", "--months", "1", "-o", "month.jsonl")

    published = _ticketstream(tmp_path, "publish", "--embedded", "month.jsonl")

    assert published.returncode == 0, published.stderr
    assert "published" in published.stdout
    [started] = [json.loads(line) for line in published.stderr.splitlines()
                 if '"embedded_broker_started"' in line]  # fmt: skip
    assert not _alive(int(started["pid"]))
