"""Plain records the ingest loop stores beside the events: dead letters and parked events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from eventsourcing.persistence import Tracking


@dataclass(frozen=True, slots=True)
class Coordinates:
    """Where a Kafka message came from."""

    topic: str
    partition: int
    offset: int
    # The tracking key of the message's partition, ``topic:partition`` (asked several times
    # per message on the hot path: made once).
    tracking_name: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tracking_name", f"{self.topic}:{self.partition}")


@dataclass(frozen=True, slots=True)
class Message:
    """One consumed Kafka message, as raw bytes."""

    coordinates: Coordinates
    key: bytes | None
    value: bytes


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that was not applied, with the specific reason why."""

    message: Message
    reason: str
    detail: str
    event_id: str | None = None
    incident_id: str | None = None
    # The bytes to store instead of the message's (sealed: it carries personal data).
    stored_value: bytes | None = None


@dataclass(frozen=True, slots=True)
class ParkedEvent:
    """A valid event that cannot be applied yet (e.g. `resolved` before `received`)."""

    message: Message
    event_id: str
    incident_id: str
    occurred_at: datetime
    reason: str
    detail: str
    # The bytes to store instead of the message's (sealed: it carries personal data).
    stored_value: bytes | None = None


@dataclass(frozen=True, slots=True)
class LetterUpdate:
    """The outcome of retrying a stored dead letter: resolved, or failing for this reason now."""

    letter_id: int
    resolved: bool
    reason: str
    detail: str


@dataclass
class IngestBatch:
    """Everything one batch stores in the same transaction as its new events."""

    offsets: list[Tracking] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    parked: list[ParkedEvent] = field(default_factory=list)
    unparked: list[str] = field(default_factory=list)
    # Per ``topic:partition``, the newest event time seen there (its "stream time").
    stream_times: dict[str, datetime] = field(default_factory=dict)
    letter_updates: list[LetterUpdate] = field(default_factory=list)
    # New customers' data keys, by key id (consumers.personal_data).
    data_keys: dict[str, bytes] = field(default_factory=dict)
    # Who writes the batch (IngestOptions.member): recorded in the ingest ledger with the
    # number of events stored; None: no ledger row.
    member: str | None = None
