"""Read-only access to the read models' database (the event store's), for reports."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from eventsourcing.postgres import PostgresDatastore

from domain.application import Incidents
from projections import portable_cursor
from projections.portable_cursor import PortableCursor


class StoreReader(Protocol):
    """Where reports read: transactions that never write, and the stored events."""

    app: Incidents

    def reading(self) -> AbstractContextManager[PortableCursor]:
        """A cursor in a transaction that is rolled back."""

    def tables(self) -> frozenset[str]:
        """The tables the database holds (read models not yet projected have none)."""


class DatastoreReader:
    """Reads the application's own database. Opened read-only by the composition root (an
    SQLite file in ``mode=ro``, a PostgreSQL session that refuses writes), or over a store a
    projection runner keeps, reading only."""

    def __init__(self, app: Incidents) -> None:
        self.app = app
        self.datastore = app.recorder.datastore  # type: ignore[attr-defined]

    @contextmanager
    def reading(self) -> Iterator[PortableCursor]:
        with portable_cursor.transaction(self.datastore, commit=False) as c:
            if isinstance(self.datastore, PostgresDatastore):
                c.execute("SET TRANSACTION READ ONLY")  # SQLite: the file is opened read-only
            yield c

    def tables(self) -> frozenset[str]:
        with self.reading() as c:
            if isinstance(self.datastore, PostgresDatastore):
                c.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
            else:
                c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            return frozenset(str(name) for (name,) in c.fetchall())
