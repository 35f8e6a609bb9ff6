"""Integration fixtures: a real embedded Kafka broker and the real CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import uuid
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from contracts.routing import TopicMap
from ticketstream.embedded_broker import EmbeddedBroker
from ticketstream.event_store import drop_schema


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh Tansu broker for the module; its bootstrap address."""
    log_file = tmp_path_factory.mktemp("broker") / "broker.log"
    with EmbeddedBroker(log_file=log_file) as running:
        yield running.bootstrap_servers


@dataclass
class Cli:
    """Runs `python -m ticketstream` with the test's broker and event store."""

    env: dict[str, str]
    cwd: Path
    topics: TopicMap
    bootstrap: str

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "ticketstream", *args],
            env=self.env, cwd=self.cwd, capture_output=True, text=True, timeout=240,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"ticketstream {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
            )
        return result


POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _cli(broker: str, tmp_path: Path, event_store: str) -> Cli:
    prefix = tmp_path.name.replace("_", "-")
    topics = TopicMap(**{name: f"{prefix}.{name}" for name in TopicMap.model_fields})
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": broker,
        "TICKETSTREAM_EVENT_STORE": event_store,
        "TICKETSTREAM_STATE_DIR": str(tmp_path / "var"),
        "TICKETSTREAM_LOG_FORMAT": "json",
        "TICKETSTREAM_CONSUMER_GROUP": f"it-{prefix}",
        "TICKETSTREAM_MAX_POLL_RECORDS": "500",
        # The broker is Tansu, whose group join lasts about half the session timeout.
        "TICKETSTREAM_SESSION_TIMEOUT_MS": "2000",
        **{f"TICKETSTREAM_TOPICS__{name.upper()}": t for name, t in topics.model_dump().items()},
    }
    return Cli(env, tmp_path, topics, broker)


@pytest.fixture
def cli(broker: str, tmp_path: Path) -> Cli:
    """The CLI against the module's broker, its own topics and a fresh SQLite store."""
    return _cli(broker, tmp_path, str(tmp_path / "events.db"))


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store_cli(request: pytest.FixtureRequest, broker: str, tmp_path: Path) -> Iterator[Cli]:
    """The CLI on a fresh SQLite file, then on a fresh schema of the local PostgreSQL."""
    if request.param == "sqlite":
        yield _cli(broker, tmp_path, str(tmp_path / "events.db"))
        return
    url = f"{POSTGRES_URL}?schema=it_{uuid.uuid4().hex[:12]}"
    try:
        yield _cli(broker, tmp_path, url)
    finally:
        drop_schema(url)
