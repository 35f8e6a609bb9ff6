"""Replay: the incident topics re-read by a reader of their own, from chosen offsets.

The reader joins no consumer group, so the live group's offsets are never touched. Each
partition is read from its start (the beginning, the first offset at a timestamp, or an
offset given) up to its stop (the end it had when the replay started, or the first offset at
a timestamp). ``--into`` feeds it through the consume loop into a fresh store; ``verify``
compares what the log says with what a store holds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

import structlog
from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from consumers.dead_letter_topic import DeadLetterStore
from consumers.errors import ConsumerError
from consumers.kafka_source import KafkaSource, PositionsProvider, SourceOptions
from consumers.records import Message
from consumers.translation import to_fact
from contracts.codec import decode
from contracts.errors import ContractError
from domain.application import Incidents

log = structlog.get_logger(__name__)

VERIFY_SHOWN_IDS = 10


@dataclass(frozen=True)
class ReplayRange:
    """Where a replay starts and stops on every partition of the incident topics.

    With neither ``from_timestamp`` nor ``from_offsets`` it starts at the beginning; a
    partition ``from_offsets`` does not name starts at its beginning too. Without
    ``to_timestamp`` it stops at the end each partition had when the replay started.
    """

    from_timestamp: datetime | None = None
    from_offsets: dict[str, int] = field(default_factory=dict)
    to_timestamp: datetime | None = None

    @property
    def whole_log(self) -> bool:
        """Whether the range is everything the topics hold."""
        return self.from_timestamp is None and not any(self.from_offsets.values()) and (
            self.to_timestamp is None
        )

    def describe(self) -> str:
        """The range in words, for the command's output."""
        start = (
            f"from {self.from_timestamp.isoformat()}" if self.from_timestamp
            else "from the offsets given" if self.from_offsets else "from the beginning"
        )  # fmt: skip
        stop = f"to {self.to_timestamp.isoformat()}" if self.to_timestamp else "to the end"
        return f"{start} {stop}"


def parse_offsets(text: str) -> dict[str, int]:
    """``TOPIC:PARTITION=OFFSET,…`` as {"topic:partition": offset}.

    Raises:
        ConsumerError: text not of that form.
    """
    offsets: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",")):
        name, _, offset = item.partition("=")
        topic, _, partition = name.rpartition(":")
        if not (topic and partition.isdigit() and offset.isdigit()):
            raise ConsumerError(f"'{item}' is not TOPIC:PARTITION=OFFSET (e.g. incidents.received:0=120)")
        offsets[f"{topic}:{int(partition)}"] = int(offset)
    return offsets


def _name(tp: TopicPartition) -> str:
    return f"{tp.topic}:{tp.partition}"


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class ReplaySource(KafkaSource):
    """Reads every partition of the topics over a ReplayRange, in the consumer's release order.

    ``positions`` gives the offsets a target store has applied already (after an outage the
    replay resumes there); ``lambda: {}`` for a dry run.
    """

    def __init__(self, options: SourceOptions, span: ReplayRange, positions: PositionsProvider) -> None:
        self.span = span
        self.starts: dict[TopicPartition, int] = {}
        self.stops: dict[TopicPartition, int] = {}
        # Per partition, one byte per offset from its start: 1 where a record was admitted.
        self._admitted: dict[TopicPartition, bytearray] = {}
        super().__init__(replace(options, group_id=None), positions)

    @property
    def expected(self) -> int:
        """How many records the range holds at most (a time range may admit fewer)."""
        return sum(max(self.stops[tp] - self.starts[tp], 0) for tp in self.stops)

    def _start(self) -> None:
        partitions = self._partitions()
        if not partitions:
            raise ConsumerError("the incident topics have no partitions to replay")
        unknown = set(self.span.from_offsets) - {_name(tp) for tp in partitions}
        if unknown:
            raise ConsumerError(f"--from-offsets names {sorted(unknown)[0]}, not a partition of the incident topics")
        self.consumer.assign(partitions)
        self.stops = self._stop_offsets(partitions)
        self.starts = self._start_offsets(partitions)
        self.seek_to_stored(partitions, why="replayed")
        log.info("replay_started", partitions=len(partitions), records=self.expected)

    def _start_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        beginnings: dict[TopicPartition, int] = self.consumer.beginning_offsets(partitions)
        if self.span.from_timestamp is not None:
            at = _millis(self.span.from_timestamp)
            found = self.consumer.offsets_for_times({tp: at for tp in partitions})
            return {tp: self.stops[tp] if found[tp] is None else found[tp].offset for tp in partitions}
        return {
            tp: max(self.span.from_offsets.get(_name(tp), beginnings[tp]), beginnings[tp])
            for tp in partitions
        }

    def _stop_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        # The ends, even with --to-timestamp: records are admitted by their own time below,
        # and a broker's offsets-for-times answer is only trusted as a place to start.
        return self._log_ends(partitions)

    def seek_to_stored(self, partitions: Sequence[TopicPartition], why: str = "assigned") -> None:
        """Move each partition to its start, or past what the target store has applied."""
        stored = self.positions()
        for tp in partitions:
            last = stored.get(_name(tp))
            at = self.starts[tp] if last is None else max(self.starts[tp], last + 1)
            self.consumer.seek(tp, min(at, self.stops[tp]))
        self.forget(partitions)
        self.unseeked.difference_update(partitions)
        done = [tp for tp in partitions if self.consumer.position(tp) >= self.stops[tp]]
        self.consumer.pause(*done)

    def _admit(self, tp: TopicPartition, records: list[ConsumerRecord]) -> list[ConsumerRecord]:
        """The records in the range: below the stop, and with a record time from
        ``from_timestamp`` (inclusive) to ``to_timestamp`` (exclusive) when given."""
        start, stop = self.starts[tp], self.stops[tp]
        if records[-1].offset + 1 >= stop:
            self.consumer.pause(tp)  # read to its stop: fetch no more of it
        low = -1 if self.span.from_timestamp is None else _millis(self.span.from_timestamp)
        high = None if self.span.to_timestamp is None else _millis(self.span.to_timestamp)
        admitted = [
            r for r in records
            if start <= r.offset < stop and r.timestamp >= low and (high is None or r.timestamp < high)
        ]  # fmt: skip
        marks = self._admitted.setdefault(tp, bytearray(max(stop - start, 0)))
        for r in admitted:
            marks[r.offset - start] = 1
        return admitted

    def _is_lagging(self, tp: TopicPartition) -> bool:
        position: int = self.consumer.position(tp)
        return position < self.stops[tp]

    def commit(self, positions: dict[str, int]) -> None:
        """Nothing to commit: a replay has no group (the target store keeps its offsets)."""

    def drained(self, stored: PositionsProvider) -> bool:
        """Every partition read to its stop and everything read handed out."""
        return not self._buffered and not any(map(self._is_lagging, self.stops))

    def read_to_end(self, stored: PositionsProvider) -> bool:
        """No other reader shares the range: read to the end is drained."""
        return self.drained(stored)

    def in_range(self, stream: str | None, position: int | None) -> bool:
        """Whether a stored event that arrived at (``topic:partition``, offset) lies in the range."""
        if self.span.whole_log:
            return True
        for tp, stop in self.stops.items():
            if _name(tp) == stream and position is not None:
                start, marks = self.starts[tp], self._admitted.get(tp, b"")
                return start <= position < stop and bool(marks[position - start])
        return False


@dataclass(frozen=True)
class StoredFact:
    """What the store holds of one event: what verify compares."""

    event_id: str
    digest: str | None  # None: stored before events kept their content digest
    kind: str
    month: str
    arrival: tuple[str, int] | None


@dataclass
class Verification:
    """What the log holds in the range against what the store holds."""

    messages: int = 0
    refused_by_contract: int = 0
    dead_lettered_in_store: int = 0
    missing: Counter[tuple[str, str]] = field(default_factory=Counter)  # in the log, not stored
    extra: Counter[tuple[str, str]] = field(default_factory=Counter)  # stored, not in the log
    differing: Counter[tuple[str, str]] = field(default_factory=Counter)  # same id, other content
    examples: dict[str, list[str]] = field(default_factory=dict)  # a few event ids of each

    @property
    def agrees(self) -> bool:
        """Whether the store holds exactly what the log says."""
        return not (self.missing or self.extra or self.differing)

    def _example(self, what: str, event_id: str) -> None:
        shown = self.examples.setdefault(what, [])
        if len(shown) < VERIFY_SHOWN_IDS:
            shown.append(event_id)


def verify(
    source: ReplaySource,
    stored: dict[str, StoredFact],
    settled: set[tuple[str, int]],
    zone: ZoneInfo,
    progressed: Callable[[int], None] = lambda n: None,
) -> Verification:
    """Read the range and compare it, event id by event id, with the store's facts.

    ``settled``: coordinates the store dead-lettered or still holds parked; those messages
    are accounted for without being stored, so they count neither as missing nor as content.
    """
    result = Verification()
    logged: dict[str, tuple[set[str], str, str]] = {}  # event id: digests, kind, month
    while True:
        batch = source.poll()
        for message in batch:
            _log_fact(message, settled, zone, logged, result)
        progressed(len(batch))
        if not batch and source.drained(lambda: {}):
            break
    for event_id, (digests, kind, month) in logged.items():
        held = stored.get(event_id)
        if held is None:
            result.missing[(kind, month)] += 1
            result._example("missing", event_id)
        elif held.digest is not None and held.digest not in digests:
            result.differing[(kind, month)] += 1
            result._example("differing", event_id)
    for event_id, held in stored.items():
        if event_id not in logged and source.in_range(*(held.arrival or (None, None))):
            result.extra[(held.kind, held.month)] += 1
            result._example("extra", event_id)
    return result


def _log_fact(
    message: Message,
    settled: set[tuple[str, int]],
    zone: ZoneInfo,
    logged: dict[str, tuple[set[str], str, str]],
    result: Verification,
) -> None:
    result.messages += 1
    c = message.coordinates
    if (c.tracking_name, c.offset) in settled:
        result.dead_lettered_in_store += 1
        return
    try:
        fact = to_fact(decode(message.value, key=message.key), arrival=(c.tracking_name, c.offset))
    except ContractError:
        result.refused_by_contract += 1  # the store would have dead-lettered it: it did not
        result.missing[("(refused by the contract)", "-")] += 1
        return
    month = fact.occurred_at.astimezone(zone).strftime("%Y-%m")
    digests, _, _ = logged.setdefault(fact.event_id, (set(), fact.kind, month))
    digests.add(fact.digest)


def stored_facts(app: Incidents, zone: ZoneInfo, page: int = 10_000) -> dict[str, StoredFact]:
    """Every fact the store holds, by event id, read page by page from its notification log."""
    facts: dict[str, StoredFact] = {}
    for _, event in app.events_since(0, page):
        if event.KIND:
            stream, position = event.arrival_stream, event.arrival_position
            month = datetime.fromisoformat(event.occurred_at).astimezone(zone).strftime("%Y-%m")
            facts[event.event_id] = StoredFact(
                event.event_id, event.digest, event.KIND, month,
                None if stream is None or position is None else (stream, position),
            )  # fmt: skip
    return facts


class SuppressedDeadLetters:
    """The dead-letter outbox of a replay: letters stay recorded in the target store and are
    marked as sent, but never reach the dead-letter topic (they did once, from the live run)."""

    def __init__(self, store: DeadLetterStore) -> None:
        self.store = store
        self.suppressed = 0

    def publish_pending(self) -> int:
        """Mark what is pending as sent, without sending it; return 0 (nothing was sent)."""
        while letters := self.store.dead_letters(unpublished_only=True, limit=1000):
            self.store.mark_published([stored.id for stored in letters])
            self.suppressed += len(letters)
        return 0
