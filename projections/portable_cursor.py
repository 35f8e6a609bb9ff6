"""A DB-API cursor that takes qmark SQL and returns tuples on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.postgres import PostgresDatastore


class PortableCursor:
    """Read models write `?` placeholders; on PostgreSQL they become `%s`."""

    def __init__(self, cursor: Any, placeholder: str) -> None:
        self._cursor = cursor
        self.placeholder = placeholder

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        """Run one statement."""
        self._cursor.execute(statement.replace("?", self.placeholder), params)

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for each row (nothing for no rows)."""
        if rows:
            self._cursor.executemany(statement.replace("?", self.placeholder), rows)

    @property
    def description(self) -> Any:
        """The DB-API description of the last query's columns (``[0]`` of each is its name)."""
        # eventsourcing's SQLite cursor wraps sqlite3's without passing its description on.
        return getattr(self._cursor, "sqlite_cursor", self._cursor).description

    def fetchall(self) -> list[tuple[Any, ...]]:
        """All remaining rows, as tuples."""
        return [_as_tuple(row) for row in self._cursor.fetchall()]

    def fetchmany(self, size: int) -> list[tuple[Any, ...]]:
        """Up to ``size`` of the remaining rows, as tuples."""
        return [_as_tuple(row) for row in self._cursor.fetchmany(size)]

    def fetchone(self) -> tuple[Any, ...] | None:
        """The next row, as a tuple."""
        row = self._cursor.fetchone()
        return None if row is None else _as_tuple(row)


@contextmanager
def transaction(datastore: Any, *, commit: bool) -> Iterator[PortableCursor]:
    """A transaction on the event store's database, its cursor made portable.

    On PostgreSQL the read models' tables live in the event store's schema.
    """
    with datastore.transaction(commit=commit) as cursor:
        if isinstance(datastore, PostgresDatastore):
            cursor.execute(f'SET LOCAL search_path TO "{datastore.schema}"')
            yield PortableCursor(cursor, "%s")
        else:
            yield PortableCursor(cursor, "?")


def _as_tuple(row: Any) -> tuple[Any, ...]:
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)
