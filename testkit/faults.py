"""Real fault injectors and store snapshots shared by the fault tests and bench/reliability.py.

Nothing here is a fake: the forwarder moves bytes over real sockets, the S3 server is a
separate process that outlives the broker, and snapshots read the event store through the
project's own recorder.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from consumers.ingest_recorder import IngestTables
from domain.application import Incidents
from ticketstream.embedded_broker import EmbeddedBroker
from ticketstream.event_store import event_store_env, is_postgres


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` every 50 ms; fail the caller after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TcpForwarder:
    """A TCP proxy on 127.0.0.1 that can refuse connections and cut the live ones."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._live: set[socket.socket] = set()
        self.accept()

    def refuse(self) -> None:
        """Close the listening socket (new connections are refused) and drop live ones."""
        with self._lock:
            listener, self._listener = self._listener, None
            live, self._live = self._live, set()
        if listener is not None:
            _cut(listener)
        for sock in live:
            _cut(sock)

    def accept(self) -> None:
        """Listen (again) on the same port."""
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(64)
            self._listener = listener
        threading.Thread(target=self._accept_loop, args=(listener,), daemon=True).start()

    def close(self) -> None:
        self.refuse()

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed: refusing
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for sock in (client, upstream):  # no Nagle delays on the database's round trips
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._listener is not listener:  # refused meanwhile
                    _cut(client)
                    _cut(upstream)
                    return
                self._live.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    _cut(sink)
    _cut(source)


def _cut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class S3Server:
    """moto's S3-compatible server in a process of its own: the restarted broker's durable storage."""

    def __init__(self, log_file: Path) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        server = Path(sys.executable).with_name("moto_server")
        with log_file.open("ab") as output:
            self.process = subprocess.Popen(
                [str(server), "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        wait_until(self._answers, 60, "the S3 server")

    def bucket(self, name: str) -> str:
        """Create a bucket; the broker storage URL for it."""
        request = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT")
        urllib.request.urlopen(request, timeout=10).close()
        return f"s3://{name}/"

    @property
    def env(self) -> dict[str, str]:
        """What Tansu needs to reach this server."""
        return {
            "AWS_ENDPOINT": self.endpoint, "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": "ticketstream", "AWS_SECRET_ACCESS_KEY": "ticketstream",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def broker(self, bucket: str, log_file: Path, port: int | None = None) -> EmbeddedBroker:
        """An embedded broker (not started) storing into ``bucket``."""
        return EmbeddedBroker(port, log_file=log_file, storage=bucket, env=self.env)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(self.endpoint, timeout=1).close()
        except OSError:
            return self.process.poll() is not None  # died: let the caller's check fail
        return True


@dataclass(frozen=True)
class StoreSnapshot:
    """What an event store holds, comparable across runs (notification order left out).

    Equal snapshots hold the same events (by id and topic), dead letters and offsets. The
    version numbers are left out of the comparison: they number an incident's events in the
    order they arrived, and Kafka orders nothing across topics, so a refetch after a
    rebalance may record two events of one incident (from two topics) the other way round.
    Every read model works from the event-time timeline, which is the same either way.
    """

    events: list[tuple[str, int, str]]  # (event_id, version, topic), sorted
    letters: list[tuple[str, int, int, str]]  # (topic, partition, offset, reason), sorted
    offsets: dict[str, int]

    @property
    def event_ids(self) -> list[str]:
        return [event_id for event_id, _, _ in self.events]

    @property
    def facts(self) -> list[tuple[str, str]]:
        """(event_id, topic) of every stored event, sorted."""
        return [(event_id, topic) for event_id, _, topic in self.events]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoreSnapshot):
            return NotImplemented
        return (self.facts, self.letters, self.offsets) == (other.facts, other.letters, other.offsets)


def snapshot(event_store: str) -> StoreSnapshot:
    """Read every stored event, dead letter and offset of ``event_store``."""
    app = Incidents(env=event_store_env(event_store))
    try:
        recorder = app.recorder
        assert isinstance(recorder, IngestTables)
        events: list[tuple[str, int, str]] = []
        start = 1
        while page := recorder.select_notifications(start, 10_000):
            for n in page:
                events.append((json.loads(n.state)["event_id"], n.originator_version, n.topic))
            start = page[-1].id + 1
        letters = [
            (c.topic, c.partition, c.offset, d.letter.reason)
            for d in recorder.dead_letters(limit=10_000_000)
            for c in [d.letter.message.coordinates]
        ]
        return StoreSnapshot(sorted(events), sorted(letters), recorder.stored_offsets())
    finally:
        app.close()


def _letter_differences(
    got: list[tuple[str, int, int, str]], expected: list[tuple[str, int, int, str]]
) -> dict[str, list[tuple[str, int, int, str]]]:
    """The dead letters (topic, partition, offset, reason) one side holds more often than the
    other, a few of each; empty when both hold the same letters as often."""
    held, wanted = Counter(got), Counter(expected)
    found = {"extra": sorted((held - wanted).elements())[:5], "missing": sorted((wanted - held).elements())[:5]}
    return {k: v for k, v in found.items() if v}


def stored_count(event_store: str) -> int:
    """How many events the store holds (0 before its table exists); cheap enough to poll."""
    env = event_store_env(event_store)
    try:
        if is_postgres(event_store):
            table = sql.Identifier(env["POSTGRES_SCHEMA"], "incidents_events")
            with psycopg.connect(event_store.split("?")[0], connect_timeout=5) as conn:
                row = conn.execute(sql.SQL("SELECT COUNT(*) FROM {}").format(table)).fetchone()
        else:
            with sqlite3.connect(env["SQLITE_DBNAME"]) as conn:
                row = conn.execute("SELECT COUNT(*) FROM stored_events").fetchone()
    except (psycopg.Error, sqlite3.Error):
        return 0
    return int(row[0]) if row else 0


def differences(got: StoreSnapshot, expected: StoreSnapshot) -> dict[str, object]:
    """A short account of how two snapshots differ (empty when equal)."""
    got_ids, expected_ids = set(got.event_ids), set(expected.event_ids)
    found: dict[str, object] = {
        "lost": len(expected_ids - got_ids),
        "extra": len(got_ids - expected_ids),
        "duplicated": len(got.event_ids) - len(got_ids),
        "other_topics": len(set(got.facts) ^ set(expected.facts)),
        "letters": _letter_differences(got.letters, expected.letters),
        "offsets": {k: (got.offsets.get(k), v) for k, v in expected.offsets.items()
                    if got.offsets.get(k) != v},
    }
    return {k: v for k, v in found.items() if v}
