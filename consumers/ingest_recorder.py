"""The event-store recorder of the ingest loop: events, offsets, dead letters, parked events — one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteCursor, SQLiteProcessRecorder

from consumers.records import Coordinates, DeadLetter, IngestBatch, Message, ParkedEvent

_TABLES = [
    "CREATE TABLE IF NOT EXISTS dead_letters ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,"
    " key BLOB, payload BLOB NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL,"
    " event_id TEXT, incident_id TEXT, recorded_at TEXT NOT NULL,"
    " published INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS dead_letters_unpublished ON dead_letters (published)",
    "CREATE TABLE IF NOT EXISTS parked_events ("
    " event_id TEXT PRIMARY KEY, incident_id TEXT NOT NULL, occurred_at TEXT NOT NULL,"
    " topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,"
    " key BLOB, payload BLOB NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS stream_times ("
    " partition_name TEXT PRIMARY KEY, occurred_at TEXT NOT NULL)",
]


@dataclass(frozen=True, slots=True)
class StoredDeadLetter:
    """A dead letter as stored, with its id and when it was recorded."""

    id: int
    letter: DeadLetter
    recorded_at: str
    published: bool


class SQLiteIngestRecorder(SQLiteProcessRecorder):
    """SQLite process recorder that also stores a batch's offsets, dead letters and parked events."""

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *_TABLES]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # Plain executemany: the ingest loop needs no notification ids back.
        SQLiteAggregateRecorder._insert_events(self, c, stored_events)
        batch: IngestBatch | None = kwargs.get("ingest")
        if batch is not None:
            self._insert_batch(c, batch)
        return None

    def _insert_batch(self, c: SQLiteCursor, batch: IngestBatch) -> None:
        for tracking in batch.offsets:
            self._insert_tracking(c, tracking)
        if batch.unparked:
            c.executemany(
                "DELETE FROM parked_events WHERE event_id=?", [(e,) for e in batch.unparked]
            )
        if batch.parked:
            c.executemany(
                "INSERT OR REPLACE INTO parked_events VALUES (?,?,?,?,?,?,?,?,?,?)",
                [_parked_row(p) for p in batch.parked],
            )
        if batch.dead_letters:
            now = datetime.now(timezone.utc).isoformat()
            c.executemany(
                "INSERT INTO dead_letters (topic, partition, offset, key, payload, reason,"
                " detail, event_id, incident_id, recorded_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [_dead_letter_row(d, now) for d in batch.dead_letters],
            )
        if batch.stream_times:
            c.executemany(
                "INSERT OR REPLACE INTO stream_times VALUES (?, ?)",
                [(name, t.isoformat()) for name, t in batch.stream_times.items()],
            )

    def select_events_of(self, originator_ids: Sequence[str]) -> dict[str, list[StoredEvent]]:
        """Stored events of each id that has any, in version order (one query per 500 ids)."""
        found: dict[str, list[StoredEvent]] = {}
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(originator_ids), 500):
                chunk = originator_ids[start : start + 500]
                c.execute(
                    f"SELECT * FROM {self.events_table_name} WHERE originator_id IN"
                    f" ({','.join('?' * len(chunk))}) ORDER BY originator_id, originator_version",
                    chunk,
                )
                for row in c.fetchall():
                    found.setdefault(row["originator_id"], []).append(
                        StoredEvent(
                            originator_id=row["originator_id"],
                            originator_version=row["originator_version"],
                            topic=row["topic"],
                            state=row["state"],
                        )
                    )
        return found

    def stored_offsets(self) -> dict[str, int]:
        """The last applied offset of every ``topic:partition`` seen so far."""
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT application_name, notification_id FROM tracking")
            return {
                row[0]: row[1] for row in c.fetchall() if ":" in row[0]
            }

    def parked_events(self) -> list[ParkedEvent]:
        """Every parked event, oldest event time first."""
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT * FROM parked_events ORDER BY occurred_at, event_id")
            return [_parked_from_row(row) for row in c.fetchall()]

    def stream_times(self) -> dict[str, datetime]:
        """Per ``topic:partition``, the newest event time ingested from it."""
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT partition_name, occurred_at FROM stream_times")
            return {row[0]: datetime.fromisoformat(row[1]) for row in c.fetchall()}

    def dead_letters(
        self, *, reason: str | None = None, unpublished_only: bool = False, limit: int = 1000
    ) -> list[StoredDeadLetter]:
        """Dead letters, oldest first, optionally only one reason or only unpublished ones."""
        where, params = ["1=1"], []
        if reason is not None:
            where.append("reason=?")
            params.append(reason)
        if unpublished_only:
            where.append("published=0")
        sql = f"SELECT * FROM dead_letters WHERE {' AND '.join(where)} ORDER BY id LIMIT ?"
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql, [*params, limit])
            return [_stored_dead_letter(row) for row in c.fetchall()]

    def dead_letter(self, letter_id: int) -> StoredDeadLetter | None:
        """One dead letter by id."""
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT * FROM dead_letters WHERE id=?", (letter_id,))
            row = c.fetchone()
        return _stored_dead_letter(row) if row else None

    def mark_published(self, letter_ids: Sequence[int]) -> None:
        """Record that these dead letters reached the dead-letter topic."""
        with self.datastore.transaction(commit=True) as c:
            c.executemany(
                "UPDATE dead_letters SET published=1 WHERE id=?", [(i,) for i in letter_ids]
            )


def _parked_row(p: ParkedEvent) -> tuple[Any, ...]:
    m = p.message
    occurred = p.occurred_at.astimezone(timezone.utc).isoformat()
    return (
        p.event_id, p.incident_id, occurred, m.coordinates.topic, m.coordinates.partition,
        m.coordinates.offset, m.key, m.value, p.reason, p.detail,
    )


def _parked_from_row(row: Any) -> ParkedEvent:
    return ParkedEvent(
        message=_message(row),
        event_id=row["event_id"],
        incident_id=row["incident_id"],
        occurred_at=datetime.fromisoformat(row["occurred_at"]),
        reason=row["reason"],
        detail=row["detail"],
    )


def _dead_letter_row(d: DeadLetter, recorded_at: str) -> tuple[Any, ...]:
    m = d.message
    return (
        m.coordinates.topic, m.coordinates.partition, m.coordinates.offset, m.key, m.value,
        d.reason, d.detail, d.event_id, d.incident_id, recorded_at,
    )


def _stored_dead_letter(row: Any) -> StoredDeadLetter:
    letter = DeadLetter(
        message=_message(row),
        reason=row["reason"],
        detail=row["detail"],
        event_id=row["event_id"],
        incident_id=row["incident_id"],
    )
    return StoredDeadLetter(row["id"], letter, row["recorded_at"], bool(row["published"]))


def _message(row: Any) -> Message:
    coordinates = Coordinates(row["topic"], row["partition"], row["offset"])
    key = bytes(row["key"]) if row["key"] is not None else None
    return Message(coordinates, key, bytes(row["payload"]))
