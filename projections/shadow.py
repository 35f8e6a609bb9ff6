"""Zero-downtime rebuild: read models built again into shadow tables while the live ones keep
answering, compared with them, then swapped in with one transaction.

The shadow is a database of its own (SQLite: a temporary file; PostgreSQL: a schema beside the
store's), so the read models' SQL runs unchanged against it while their events come from the
store as usual. The swap replaces the live rows, the position and the rebuild count of each
read model in one transaction: a reader sees the old rows or the new ones, never neither. A
`project` running meanwhile notices the count changed and folds its batch again from the new
position (see `ProjectionRunner`), so no event that arrived during the rebuild is lost.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from eventsourcing.postgres import PostgresDatastore

from projections.portable_cursor import PortableCursor
from projections.runner import ProjectionRunner
from projections.read_model import ReadModel

log = structlog.get_logger(__name__)

Transaction = Callable[..., AbstractContextManager[PortableCursor]]
_COPY_CHUNK = 5_000
# The column whose changes a diff counts by value ("met → breached"), when a table has it.
STATUS_COLUMN = "final_status"


@dataclass
class TableDiff:
    """How the rebuilt rows of one table differ from the live ones."""

    table: str
    added: int = 0
    removed: int = 0
    changed: int = 0
    # (old status, new status) → changed rows, for a table with a STATUS_COLUMN.
    statuses: Counter[tuple[str, str]] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        """What the diff summary says about this table."""
        said = [f"{self.table}: {self.added} rows added, {self.removed} removed, {self.changed} changed"]
        moved = sum(self.statuses.values())
        if moved:
            changes = ", ".join(f"{old} → {new} {n}" for (old, new), n in self.statuses.most_common())
            said.append(f"  {moved} clocks: {changes}")
        return said


@contextmanager
def shadow_database(datastore: Any) -> Iterator[Transaction]:
    """A fresh, empty database for the shadow tables, removed when the block ends; yields its
    ``transaction(commit=...)``."""
    if isinstance(datastore, PostgresDatastore):
        schema = shadow_schema(datastore)
        with datastore.transaction(commit=True) as c:
            c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            c.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield _postgres_transaction(datastore, schema)
        finally:
            with datastore.transaction(commit=True) as c:
                c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        return
    folder = Path(tempfile.mkdtemp(prefix="ticketstream-shadow-"))
    connection = sqlite3.connect(folder / "shadow.db", isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=MEMORY")  # thrown away after: no durability
        connection.execute("PRAGMA synchronous=OFF")
        yield _sqlite_transaction(connection)
    finally:
        connection.close()
        shutil.rmtree(folder, ignore_errors=True)


def shadow_schema(datastore: PostgresDatastore) -> str:
    """The PostgreSQL schema of the shadow tables, beside the store's."""
    return f"{datastore.schema}__shadow"[:63]


def _postgres_transaction(datastore: PostgresDatastore, schema: str) -> Transaction:
    @contextmanager
    def transaction(*, commit: bool) -> Iterator[PortableCursor]:
        with datastore.transaction(commit=commit) as cursor:
            cursor.execute(f'SET LOCAL search_path TO "{schema}"')
            yield PortableCursor(cursor, "%s")

    return transaction


def _sqlite_transaction(connection: sqlite3.Connection) -> Transaction:
    @contextmanager
    def transaction(*, commit: bool) -> Iterator[PortableCursor]:
        cursor = connection.cursor()
        cursor.execute("BEGIN")
        try:
            yield PortableCursor(cursor, "?")
        except BaseException:
            connection.rollback()
            raise
        if commit:
            connection.commit()
        else:
            connection.rollback()

    return transaction


def diff(live: Transaction, shadow: Transaction, tables: Sequence[str]) -> list[TableDiff]:
    """Rows added, removed and changed (by primary key) from the live tables to the shadow's."""
    found = []
    for table in tables:
        with shadow(commit=False) as s:
            key, columns = _shape(s, table)
            new = _rows(s, table, columns)
        with live(commit=False) as c:
            old = _rows(c, table, columns)
        found.append(_compared(table, key, columns, old, new))
    return found


def _compared(
    table: str, key: list[int], columns: list[str], old: list[tuple[Any, ...]], new: list[tuple[Any, ...]]
) -> TableDiff:
    result = TableDiff(table)
    if not key:  # no primary key: rows are compared whole, as a multiset
        was, now = Counter(old), Counter(new)
        result.added, result.removed = sum((now - was).values()), sum((was - now).values())
        return result
    status = columns.index(STATUS_COLUMN) if STATUS_COLUMN in columns else None
    by_key = {tuple(row[i] for i in key): row for row in old}
    for row in new:
        before = by_key.pop(tuple(row[i] for i in key), None)
        if before is None:
            result.added += 1
        elif before != row:
            result.changed += 1
            if status is not None and before[status] != row[status]:
                result.statuses[(_status(before[status]), _status(row[status]))] += 1
    result.removed = len(by_key)
    return result


def _status(value: object) -> str:
    return "running" if value is None else str(value)


def _shape(c: PortableCursor, table: str) -> tuple[list[int], list[str]]:
    """The table's columns, and the positions among them of its primary key's."""
    c.execute(f"SELECT * FROM {table} WHERE 1 = 0")
    columns = [column[0] for column in c.description]
    if c.placeholder == "?":
        c.execute(f"PRAGMA table_info({table})")
        key = [name for _, name, _, _, _, pk in sorted(c.fetchall(), key=lambda r: r[5]) if pk]
    else:
        c.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
            " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = ?::regclass AND i.indisprimary"
            " ORDER BY array_position(i.indkey, a.attnum)",
            (table,),
        )
        key = [row[0] for row in c.fetchall()]
    return [columns.index(k) for k in key], columns


def _rows(c: PortableCursor, table: str, columns: Sequence[str]) -> list[tuple[Any, ...]]:
    c.execute(f"SELECT {', '.join(columns)} FROM {table}")
    return c.fetchall()


def swap(
    live: Transaction, shadow: Transaction, models: Sequence[ReadModel], positions: dict[str, int],
    datastore: Any,
) -> None:  # fmt: skip
    """Replace the live rows of these read models by the shadow's, with their positions, in one
    transaction (the first statement writes: on SQLite the write lock is taken at once)."""
    names = [m.name for m in models]
    with live(commit=True) as c:
        if isinstance(datastore, PostgresDatastore):  # a `project` batch waits, or is waited for
            c.execute("LOCK TABLE projection_tracking IN SHARE ROW EXCLUSIVE MODE")
        c.executemany(
            "INSERT INTO projection_rebuilds VALUES (?, 1) ON CONFLICT (projection)"
            " DO UPDATE SET rebuilds = projection_rebuilds.rebuilds + 1",
            [(name,) for name in names],
        )
        for model in models:
            for table in model.tables:
                c.execute(f"DELETE FROM {table}")
                _copy(c, shadow, table, datastore)
        c.executemany(
            "INSERT INTO projection_tracking VALUES (?, ?) ON CONFLICT (projection)"
            " DO UPDATE SET notification_id = excluded.notification_id",
            [(name, positions[name]) for name in names],
        )
    log.info("projection_rebuild_swapped", projections=names, positions=positions)


def _copy(c: PortableCursor, shadow: Transaction, table: str, datastore: Any) -> None:
    if isinstance(datastore, PostgresDatastore):  # both schemas on one server: copied there
        with shadow(commit=False) as s:
            _, columns = _shape(s, table)
        listed = ", ".join(columns)
        schema = shadow_schema(datastore)
        c.execute(f'INSERT INTO {table} ({listed}) SELECT {listed} FROM "{schema}".{table}')
        return
    with shadow(commit=False) as s:
        _, columns = _shape(s, table)
        s.execute(f"SELECT {', '.join(columns)} FROM {table}")
        insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        while rows := s.fetchmany(_COPY_CHUNK):
            c.executemany(insert, rows)


@dataclass(frozen=True)
class Rebuilt:
    """What a rebuild did: notifications read, the diff, and whether it was swapped in."""

    notifications: int
    diffs: list[TableDiff]
    swapped: bool


def rebuild(
    runner: ProjectionRunner, names: Sequence[str], *, dry_run: bool = False,
    progressed: Callable[[int], None] = lambda n: None,
) -> Rebuilt:  # fmt: skip
    """Build these read models (all when none is named) again in shadow tables from the whole
    store, in one pass, compare them with the live ones, and (unless ``dry_run``) swap them in.

    Raises:
        ProjectionError: for an unknown read model name (then nothing is touched).
    """
    models = runner.chosen(names)
    log.info("projection_rebuild_started", projections=[m.name for m in models], dry_run=dry_run)
    with shadow_database(runner.datastore) as shadow:
        built = ProjectionRunner(
            runner.app, models, batch_size=runner.batch_size, histories=runner.histories,
            transaction=shadow,
        )  # fmt: skip
        count = built.catch_up(progressed)
        count += built.catch_up()  # what arrived meanwhile
        tables = [t for m in models for t in m.tables]
        diffs = diff(runner.transaction, shadow, tables)
        if not dry_run:
            swap(runner.transaction, shadow, models, built.positions(), runner.datastore)
    return Rebuilt(count, diffs, not dry_run)
