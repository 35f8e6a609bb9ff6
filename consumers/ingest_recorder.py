"""Event-store recorders of the ingest loop: events, offsets, dead letters, parked events — one transaction.

One set of SQL serves SQLite and PostgreSQL; the two recorders differ only in placeholder,
a few column types, and where the library keeps its tracking table.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import structlog
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresProcessRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteCursor, SQLiteProcessRecorder

from consumers.personal_data import open_payload, payload_key_id
from consumers.records import Coordinates, DeadLetter, IngestBatch, Message, ParkedEvent

log = structlog.get_logger(__name__)

# Tries of the checkpoint after an erasure: each waits at most _CHECKPOINT_BUSY_MS for readers
# (not the store's lock timeout), then 0.1 s, 0.2 s, … 1.0 s pass: about 6.5 s in all.
_CHECKPOINT_ATTEMPTS = 10
_CHECKPOINT_BUSY_MS = 100

_DEAD_LETTER_COLUMNS = (
    "source_topic, source_partition, source_offset, message_key, payload, reason, detail,"
    " event_id, incident_id, recorded_at"
)
_PARKED_COLUMNS = (
    "event_id, incident_id, occurred_at, source_topic, source_partition, source_offset,"
    " message_key, payload, reason, detail"
)


@dataclass(frozen=True, slots=True)
class StoredDeadLetter:
    """A dead letter as stored, with its id and when it was recorded."""

    id: int
    letter: DeadLetter
    recorded_at: str
    published: bool
    status: str = "open"
    attempts: int = 0


class IngestTables:
    """The ingest loop's own tables and queries, written once for both databases."""

    placeholder = "?"
    id_column = "INTEGER PRIMARY KEY AUTOINCREMENT"
    bytes_type = "BLOB"
    datastore: Any
    events_table_name: str

    def ingest_table_statements(self) -> list[str]:
        """DDL of the dead-letter, parked-event and stream-time tables."""
        return [
            f"CREATE TABLE IF NOT EXISTS dead_letters (id {self.id_column},"
            " source_topic TEXT NOT NULL, source_partition INTEGER NOT NULL,"
            f" source_offset BIGINT NOT NULL, message_key {self.bytes_type},"
            f" payload {self.bytes_type} NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL,"
            " event_id TEXT, incident_id TEXT, recorded_at TEXT NOT NULL,"
            " published INTEGER NOT NULL DEFAULT 0,"
            # open | resolved: a retried letter that now applies is resolved, never deleted.
            " status TEXT NOT NULL DEFAULT 'open', attempts INTEGER NOT NULL DEFAULT 0,"
            " resolved_at TEXT)",
            "CREATE INDEX IF NOT EXISTS dead_letters_unpublished ON dead_letters (published)",
            "CREATE TABLE IF NOT EXISTS parked_events (event_id TEXT PRIMARY KEY,"
            " incident_id TEXT NOT NULL, occurred_at TEXT NOT NULL, source_topic TEXT NOT NULL,"
            " source_partition INTEGER NOT NULL, source_offset BIGINT NOT NULL,"
            f" message_key {self.bytes_type}, payload {self.bytes_type} NOT NULL,"
            " reason TEXT NOT NULL, detail TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS stream_times ("
            " partition_name TEXT PRIMARY KEY, occurred_at TEXT NOT NULL)",
            # Customers' data keys (consumers.personal_data): deleting one is an erasure.
            "CREATE TABLE IF NOT EXISTS customer_keys (key_id TEXT PRIMARY KEY,"
            f" data_key {self.bytes_type} NOT NULL, created_at TEXT NOT NULL)",
            # The audit trail of erasures: which key, when; no personal data.
            f"CREATE TABLE IF NOT EXISTS customer_erasures (id {self.id_column},"
            " key_id TEXT NOT NULL, erased_at TEXT NOT NULL, had_key INTEGER NOT NULL)",
            # After a rotation of the secret: the keyed hash under the secret in force of each
            # customer still readable, and the customer key they have had since before.
            "CREATE TABLE IF NOT EXISTS customer_aliases (key_index TEXT PRIMARY KEY,"
            " key_id TEXT NOT NULL)",
            # The audit trail of rotations: when, a fingerprint of the new secret, how many
            # customers and stored messages were re-indexed.
            f"CREATE TABLE IF NOT EXISTS customer_secret_rotations (id {self.id_column},"
            " rotated_at TEXT NOT NULL, fingerprint TEXT NOT NULL, aliases INTEGER NOT NULL)",
            # One row per stored batch: which consumer (group member) stored how many events,
            # in the batch's own transaction. No personal data.
            f"CREATE TABLE IF NOT EXISTS ingest_ledger (id {self.id_column},"
            " member TEXT NOT NULL, events INTEGER NOT NULL, recorded_at TEXT NOT NULL)",
        ]

    def tracking_table(self) -> str:
        """Where the library keeps tracking records (our Kafka offsets)."""
        return "tracking"

    def sql(self, statement: str) -> str:
        """The statement with this database's placeholder."""
        return statement.replace("?", self.placeholder)

    def rows_changed(self, c: Any, statement: str, rows: Sequence[tuple[Any, ...]]) -> int:
        """Run the statement once per row; return how many rows it changed in all."""
        c.executemany(statement, rows)
        return int(c.sqlite_cursor.rowcount)

    def insert_batch(self, c: Any, batch: IngestBatch) -> None:
        """Write a batch's letters, parked events and stream times (not its offsets)."""
        if batch.data_keys:
            # A plain insert: a key made at the same time by another group member fails the
            # batch, which is then tried again with that key.
            now = datetime.now(timezone.utc).isoformat()
            c.executemany(
                self.sql("INSERT INTO customer_keys (key_id, data_key, created_at) VALUES (?,?,?)"),
                [(k, v, now) for k, v in batch.data_keys.items()],
            )
        if batch.unparked:
            deleted = self.rows_changed(
                c, self.sql("DELETE FROM parked_events WHERE event_id=?"),
                [(e,) for e in batch.unparked],
            )  # fmt: skip
            if deleted != len(set(batch.unparked)):
                # Another group member released or expired one of them meanwhile: the batch
                # was decided on a stale view of the parked events.
                raise IntegrityError("a parked event was released by another writer")
        if batch.parked:
            c.executemany(
                self.sql(
                    f"INSERT INTO parked_events ({_PARKED_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)"
                    " ON CONFLICT (event_id) DO UPDATE SET reason=excluded.reason,"
                    " detail=excluded.detail"
                ),
                [_parked_row(p) for p in batch.parked],
            )
        if batch.dead_letters:
            now = datetime.now(timezone.utc).isoformat()
            c.executemany(
                self.sql(
                    f"INSERT INTO dead_letters ({_DEAD_LETTER_COLUMNS})"
                    " VALUES (?,?,?,?,?,?,?,?,?,?)"
                ),
                [_dead_letter_row(d, now) for d in batch.dead_letters],
            )
        if batch.letter_updates:
            now = datetime.now(timezone.utc).isoformat()
            c.executemany(
                self.sql(
                    "UPDATE dead_letters SET status=?, reason=?, detail=?,"
                    " attempts=attempts+1, resolved_at=? WHERE id=?"
                ),
                [
                    ("resolved" if u.resolved else "open", u.reason, u.detail,
                     now if u.resolved else None, u.letter_id)
                    for u in batch.letter_updates
                ],
            )
        if batch.stream_times:
            c.executemany(
                self.sql(
                    "INSERT INTO stream_times VALUES (?, ?) ON CONFLICT (partition_name)"
                    " DO UPDATE SET occurred_at=excluded.occurred_at"
                ),
                [(name, t.isoformat()) for name, t in batch.stream_times.items()],
            )

    def insert_ledger(self, c: Any, batch: IngestBatch, events: int) -> None:
        """Record who stored this batch and how many events it stored (same transaction)."""
        if batch.member is not None:
            c.execute(
                self.sql("INSERT INTO ingest_ledger (member, events, recorded_at) VALUES (?,?,?)"),
                [batch.member, events, datetime.now(timezone.utc).isoformat()],
            )

    def ledger(self) -> list[tuple[int, str, int]]:
        """Every ledger row, (id, member, events), oldest first."""
        rows = self._select("SELECT id, member, events FROM ingest_ledger ORDER BY id")
        return [(int(r["id"]), r["member"], int(r["events"])) for r in rows]

    def select_events_of(self, originator_ids: Sequence[str]) -> dict[str, list[StoredEvent]]:
        """Stored events of each id that has any, in version order (one query per 500 ids)."""
        found: dict[str, list[StoredEvent]] = {}
        with self.datastore.transaction(commit=False) as c:
            self.enter(c)
            for start in range(0, len(originator_ids), 500):
                chunk = list(originator_ids[start : start + 500])
                c.execute(
                    self.sql(
                        "SELECT originator_id, originator_version, topic, state"
                        f" FROM {self.events_table_name}"
                        f" WHERE originator_id IN ({','.join('?' * len(chunk))})"
                        " ORDER BY originator_id, originator_version"
                    ),
                    chunk,
                )
                for row in c.fetchall():
                    found.setdefault(row["originator_id"], []).append(
                        StoredEvent(
                            originator_id=row["originator_id"],
                            originator_version=row["originator_version"],
                            topic=row["topic"],
                            state=bytes(row["state"]),
                        )
                    )
        return found

    def data_keys(self, key_ids: Collection[str]) -> dict[str, bytes]:
        """The data keys the store holds of these key ids (one query per 500 ids)."""
        rows = self._select_in("SELECT key_id, data_key FROM customer_keys WHERE key_id", key_ids)
        return {r["key_id"]: bytes(r["data_key"]) for r in rows}

    def customer_aliases(self, indexes: Collection[str]) -> dict[str, str]:
        """The customer key each of these key indexes stands for, where a rotation of the
        secret recorded one (one query per 500 indexes)."""
        rows = self._select_in("SELECT key_index, key_id FROM customer_aliases WHERE key_index", indexes)
        return {r["key_index"]: r["key_id"] for r in rows}

    def replace_aliases(self, aliases: dict[str, str], fingerprint: str) -> None:
        """Make these the only aliases (the index under the new secret → the customer key)
        and record the rotation, in one transaction."""
        with self.datastore.transaction(commit=True) as c:
            self.enter(c)
            c.execute("DELETE FROM customer_aliases")
            c.executemany(
                self.sql("INSERT INTO customer_aliases (key_index, key_id) VALUES (?,?)"),
                [(i, k) for i, k in aliases.items() if i != k],
            )
            c.execute(
                self.sql("INSERT INTO customer_secret_rotations (rotated_at, fingerprint, aliases) VALUES (?,?,?)"),
                [datetime.now(timezone.utc).isoformat(), fingerprint, len(aliases)],
            )

    def secret_rotations(self) -> list[tuple[str, str, int]]:
        """Every rotation of the secret: (when, the new secret's fingerprint, aliases)."""
        rows = self._select("SELECT rotated_at, fingerprint, aliases FROM customer_secret_rotations ORDER BY id")
        return [(r["rotated_at"], r["fingerprint"], int(r["aliases"])) for r in rows]

    def stored_payloads(self) -> list[tuple[str, Any, bytes]]:
        """Every stored dead letter's and parked event's bytes as stored: ("dead_letter", id,
        payload) and ("parked", event_id, payload)."""
        return [
            *(("dead_letter", r["id"], bytes(r["payload"])) for r in self._select("SELECT id, payload FROM dead_letters ORDER BY id")),
            *(("parked", r["event_id"], bytes(r["payload"]))
              for r in self._select("SELECT event_id, payload FROM parked_events ORDER BY event_id")),
        ]  # fmt: skip

    def erase_data_key(self, key_id: str) -> bool:
        """Delete a customer's data key and record the erasure; whether there was a key."""
        with self.datastore.transaction(commit=True) as c:
            self.enter(c)
            self.before_erasing(c)
            c.execute(self.sql("SELECT key_id FROM customer_keys WHERE key_id=?"), [key_id])
            had = bool(c.fetchall())
            c.execute(self.sql("DELETE FROM customer_keys WHERE key_id=?"), [key_id])
            c.execute(
                self.sql("INSERT INTO customer_erasures (key_id, erased_at, had_key) VALUES (?,?,?)"),
                [key_id, datetime.now(timezone.utc).isoformat(), int(had)],
            )
        self.after_erasing()
        return had

    def rewrite_states(
        self, rows: Sequence[tuple[bytes, str, int]], data_keys: dict[str, bytes],
        letters: Sequence[tuple[bytes, int]] = (), parked: Sequence[tuple[bytes, str]] = (),
    ) -> None:  # fmt: skip
        """Replace stored events' state (``(state, originator_id, originator_version)``),
        dead letters' bytes (``(payload, id)``) and parked events' (``(payload, event_id)``),
        and add data keys, in one transaction, leaving no copy of the old bytes behind."""
        with self.datastore.transaction(commit=True) as c:
            self.enter(c)
            self.before_erasing(c)
            now = datetime.now(timezone.utc).isoformat()
            c.executemany(
                self.sql("INSERT INTO customer_keys (key_id, data_key, created_at) VALUES (?,?,?)"),
                [(k, v, now) for k, v in data_keys.items()],
            )
            c.executemany(
                self.sql(
                    f"UPDATE {self.events_table_name} SET state=?"
                    " WHERE originator_id=? AND originator_version=?"
                ),
                rows,
            )
            c.executemany(self.sql("UPDATE dead_letters SET payload=? WHERE id=?"), letters)
            c.executemany(self.sql("UPDATE parked_events SET payload=? WHERE event_id=?"), parked)
        self.after_erasing()

    def before_erasing(self, c: Any) -> None:
        """Make the erasing transaction overwrite what it deletes (SQLite)."""

    def after_erasing(self) -> None:
        """Leave no copy of deleted bytes in the database's files."""

    def stored_offsets(self) -> dict[str, int]:
        """The last applied offset of every ``topic:partition`` seen so far."""
        rows = self._select(f"SELECT application_name, notification_id FROM {self.tracking_table()}")
        return {r["application_name"]: r["notification_id"] for r in rows if ":" in r["application_name"]}

    def parked_events(self) -> list[ParkedEvent]:
        """Every parked event, oldest event time first."""
        rows = self._select("SELECT * FROM parked_events ORDER BY occurred_at, event_id")
        keys = self._payload_keys(rows)
        return [_parked_from_row(row, keys) for row in rows]

    def stream_times(self) -> dict[str, datetime]:
        """Per ``topic:partition``, the newest event time ingested from it."""
        rows = self._select("SELECT partition_name, occurred_at FROM stream_times")
        return {r["partition_name"]: datetime.fromisoformat(r["occurred_at"]) for r in rows}

    def dead_letters(
        self,
        *,
        reason: str | None = None,
        unpublished_only: bool = False,
        open_only: bool = False,
        limit: int = 1000,
    ) -> list[StoredDeadLetter]:
        """Dead letters, oldest first; optionally one reason, only unpublished or only open ones."""
        where, params = ["1=1"], []
        if open_only:
            where.append("status='open'")
        if reason is not None:
            where.append("reason=?")
            params.append(reason)
        if unpublished_only:
            where.append("published=0")
        sql = f"SELECT * FROM dead_letters WHERE {' AND '.join(where)} ORDER BY id LIMIT ?"
        rows = self._select(sql, [*params, limit])
        keys = self._payload_keys(rows)
        return [_stored_dead_letter(row, keys) for row in rows]

    def dead_letter(self, letter_id: int) -> StoredDeadLetter | None:
        """One dead letter by id."""
        rows = self._select("SELECT * FROM dead_letters WHERE id=?", [letter_id])
        return _stored_dead_letter(rows[0], self._payload_keys(rows)) if rows else None

    def mark_published(self, letter_ids: Sequence[int]) -> None:
        """Record that these dead letters reached the dead-letter topic."""
        with self.datastore.transaction(commit=True) as c:
            self.enter(c)
            c.executemany(
                self.sql("UPDATE dead_letters SET published=1 WHERE id=?"),
                [(i,) for i in letter_ids],
            )

    def open_dead_letter_counts(self) -> dict[str, int]:
        """Open dead letters counted by reason (counted by the database: no payload is read)."""
        rows = self._select("SELECT reason, COUNT(*) AS n FROM dead_letters WHERE status='open'"
                            " GROUP BY reason ORDER BY reason")  # fmt: skip
        return {r["reason"]: int(r["n"]) for r in rows}

    def settled_coordinates(self) -> set[tuple[str, int]]:
        """Where the messages held as open dead letters or as parked events were read
        (``topic:partition``, offset): accounted for, though not stored as events."""
        rows = [
            *self._select("SELECT source_topic, source_partition, source_offset FROM dead_letters"
                          " WHERE status='open'"),
            *self._select("SELECT source_topic, source_partition, source_offset FROM parked_events"),
        ]  # fmt: skip
        return {(f"{r['source_topic']}:{r['source_partition']}", r["source_offset"]) for r in rows}

    def _payload_keys(self, rows: Sequence[Any]) -> dict[str, bytes]:
        """The data keys the rows' sealed payloads need."""
        ids = {payload_key_id(bytes(r["payload"])) for r in rows}
        ids.discard(None)
        return self.data_keys(ids) if ids else {}  # type: ignore[arg-type]

    def enter(self, c: Any) -> None:
        """Prepare a new transaction's cursor (PostgreSQL: find our tables in the schema)."""

    def _select_in(self, statement: str, values: Collection[str]) -> list[Any]:
        """The rows of ``statement`` (ending in a column) ``IN`` the values, 500 a query."""
        listed, rows = list(values), []
        for start in range(0, len(listed), 500):
            chunk = listed[start : start + 500]
            rows.extend(self._select(f"{statement} IN ({','.join('?' * len(chunk))})", chunk))
        return rows

    def _select(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        with self.datastore.transaction(commit=False) as c:
            self.enter(c)
            c.execute(self.sql(statement), params)
            return list(c.fetchall())


class SQLiteIngestRecorder(IngestTables, SQLiteProcessRecorder):
    """The SQLite event store of the ingest loop."""

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *self.ingest_table_statements()]

    def before_erasing(self, c: Any) -> None:
        c.execute("PRAGMA secure_delete=ON")

    def after_erasing(self) -> None:
        # The deleted key's old page images live on in the write-ahead log until a checkpoint
        # copies the zeroed pages back and the log is truncated.
        # A reader in another process (consume, project, serve) can hold it up: tried for a
        # while, then left to SQLite's next checkpoint, said in the log.
        for attempt in range(_CHECKPOINT_ATTEMPTS):
            with self.datastore.transaction(commit=False) as c:
                c.execute("COMMIT")  # the library opened one; a checkpoint runs outside it
                c.execute("PRAGMA busy_timeout")
                lock_timeout = c.fetchone()[0]
                c.execute(f"PRAGMA busy_timeout={_CHECKPOINT_BUSY_MS}")
                try:
                    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    busy = c.fetchone()[0]
                finally:
                    c.execute(f"PRAGMA busy_timeout={int(lock_timeout)}")
                c.execute("BEGIN")
            if not busy:
                return
            time.sleep(0.1 * (attempt + 1))
        log.warning("erasure_checkpoint_deferred", reason="another process is reading the store")

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # Plain executemany: the ingest loop needs no notification ids back.
        if self.datastore.originator_id_type == "text":  # ids as they are: no UUID to convert
            # A generator: each row is bound and dropped, not held (no garbage-collector work).
            c.executemany(
                self.insert_events_statement,
                ((s.originator_id, s.originator_version, s.topic, s.state) for s in stored_events),
            )
        else:
            SQLiteAggregateRecorder._insert_events(self, c, stored_events)
        batch: IngestBatch | None = kwargs.get("ingest")
        if batch is not None:
            for tracking in batch.offsets:
                self._insert_tracking(c, tracking)
            self.insert_batch(c, batch)
            self.insert_ledger(c, batch, len(stored_events))
        return None


def _unretried(method: Any) -> Any:
    """The library method without its retry decorator."""
    return getattr(method, "__wrapped__", method)


class PostgresIngestRecorder(IngestTables, PostgresProcessRecorder):
    """The PostgreSQL event store of the ingest loop (tables in the configured schema)."""

    placeholder = "%s"
    id_column = "BIGSERIAL PRIMARY KEY"
    bytes_type = "BYTEA"

    # The library retries these ten times, silently, each retry waiting out the connection
    # timeout: an outage of a minute would pass unseen. The callers retry instead, logging
    # every retry and giving up after the configured time (consumers/outage.py).
    insert_events = _unretried(PostgresProcessRecorder.insert_events)
    select_events = _unretried(PostgresProcessRecorder.select_events)
    select_notifications = _unretried(PostgresProcessRecorder.select_notifications)
    max_notification_id = _unretried(PostgresProcessRecorder.max_notification_id)

    def _create_table(self, curs: Any) -> None:
        super()._create_table(curs)
        self.enter(curs)
        for statement in self.ingest_table_statements():
            curs.execute(statement)

    def tracking_table(self) -> str:
        return f'"{self.datastore.schema}"."{self.tracking_table_name}"'

    def rows_changed(self, c: Any, statement: str, rows: Sequence[tuple[Any, ...]]) -> int:
        # The batch is written in pipeline mode: counts are known only once synced, which
        # leaving a nested pipeline does.
        with c.connection.pipeline():
            c.executemany(statement, rows)
        return int(c.rowcount)

    def enter(self, c: Any) -> None:
        c.execute(f'SET LOCAL search_path TO "{self.datastore.schema}"')

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        batch: IngestBatch | None = kwargs.get("ingest")
        if batch is not None:
            self.enter(curs)
            for tracking in batch.offsets:
                self._insert_tracking(curs, tracking)
            self.insert_batch(curs, batch)
            self.insert_ledger(curs, batch, len(stored_events))
        super()._insert_events(curs, stored_events, **kwargs)


def _parked_row(p: ParkedEvent) -> tuple[Any, ...]:
    m = p.message
    occurred = p.occurred_at.astimezone(timezone.utc).isoformat()
    value = m.value if p.stored_value is None else p.stored_value
    return (
        p.event_id, p.incident_id, occurred, m.coordinates.topic, m.coordinates.partition,
        m.coordinates.offset, m.key, value, p.reason, p.detail,
    )


def _parked_from_row(row: Any, keys: dict[str, bytes]) -> ParkedEvent:
    message, stored = _message(row, keys)
    return ParkedEvent(
        message=message,
        event_id=row["event_id"],
        incident_id=row["incident_id"],
        occurred_at=datetime.fromisoformat(row["occurred_at"]),
        reason=row["reason"],
        detail=row["detail"],
        stored_value=stored,
    )


def _dead_letter_row(d: DeadLetter, recorded_at: str) -> tuple[Any, ...]:
    m = d.message
    value = m.value if d.stored_value is None else d.stored_value
    return (
        m.coordinates.topic, m.coordinates.partition, m.coordinates.offset, m.key, value,
        d.reason, d.detail, d.event_id, d.incident_id, recorded_at,
    )


def _stored_dead_letter(row: Any, keys: dict[str, bytes]) -> StoredDeadLetter:
    message, stored = _message(row, keys)
    letter = DeadLetter(
        message=message,
        reason=row["reason"],
        detail=row["detail"],
        event_id=row["event_id"],
        incident_id=row["incident_id"],
        stored_value=stored,
    )
    return StoredDeadLetter(
        row["id"], letter, row["recorded_at"], bool(row["published"]), row["status"],
        row["attempts"],
    )


def _message(row: Any, keys: dict[str, bytes]) -> tuple[Message, bytes | None]:
    """The stored message with its original bytes (empty once erased), and the sealed bytes
    it is stored as (None: stored as it came)."""
    coordinates = Coordinates(row["source_topic"], row["source_partition"], row["source_offset"])
    key = bytes(row["message_key"]) if row["message_key"] is not None else None
    stored = bytes(row["payload"])
    if payload_key_id(stored) is None:
        return Message(coordinates, key, stored), None
    return Message(coordinates, key, open_payload(stored, keys) or b""), stored
