"""`project` on PostgreSQL: one active process per store, the others on standby, and the
active one woken by the store's NOTIFY instead of polling.

The active process holds a session advisory lock on a connection of its own; when it dies
(even by kill -9) the server drops the connection and the lock with it, and a standby takes
over at its next try. The same connection LISTENs on the channel the event store NOTIFYs on
every insert.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

import psycopg
import structlog
from psycopg import sql

from ticketstream.event_store import connection_info

log = structlog.get_logger(__name__)

STANDBY_RETRY_SECONDS = 1.0
HEALTH_CHECK_SECONDS = 5.0


class LiveProjection:
    """The lock that makes one `project` active, and the wait for new events."""

    def __init__(self, location: str, channel: str) -> None:
        conninfo, schema = connection_info(location)
        self._conninfo, self._channel = conninfo, channel
        self._key = f"ticketstream-project:{schema}"
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._active = False
        self._checked = 0.0
        self._said_standby = False

    def __enter__(self) -> LiveProjection:
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def active(self) -> bool:
        """Whether this process holds the lock (trying to take it when it does not)."""
        try:
            if self._active:
                if time.monotonic() - self._checked > HEALTH_CHECK_SECONDS:
                    self._connection().execute("SELECT 1")
                    self._checked = time.monotonic()
                return True
            row = self._connection().execute("SELECT pg_try_advisory_lock(hashtext(%s))", (self._key,)).fetchone()
        except psycopg.Error as err:
            # The connection is gone, and the lock with it: stop, and try again as a standby.
            if self._active:
                log.warning("projection_lock_lost", error=type(err).__name__)
            self._drop()
            return False
        self._active = bool(row and row[0])
        if self._active:
            self._checked = time.monotonic()
            log.info("projection_active", lock=self._key)
        elif not self._said_standby:
            self._said_standby = True
            log.info("projection_standby", lock=self._key, reason="another project holds the store")
        return self._active

    def wait(self, timeout: float) -> bool:
        """Until the event store announces new events (True), or ``timeout`` seconds."""
        if self._conn is None or self._conn.closed:
            time.sleep(min(timeout, STANDBY_RETRY_SECONDS))
            return False
        try:
            for _ in self._conn.notifies(timeout=timeout, stop_after=1):
                return True
        except psycopg.Error:
            self._drop()
        return False

    def wait_for_events(self, longest: float, should_stop: Callable[[], bool]) -> None:
        """Until new events are announced, ``longest`` seconds pass or ``should_stop()``
        (asked every half second: a signal does not cut a wait short)."""
        deadline = time.monotonic() + longest
        while not should_stop() and time.monotonic() < deadline:
            if self.wait(min(0.5, max(deadline - time.monotonic(), 0.0))):
                return

    def close(self) -> None:
        """Release the lock (closing the connection releases it)."""
        self._drop()

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5)
            self._conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
        return self._conn

    def _drop(self) -> None:
        self._active = False
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
        self._conn = None
