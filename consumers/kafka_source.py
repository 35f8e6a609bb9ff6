"""A thin wrapper over kafka-python's consumer: batches of Messages, positions from our store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog
from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from consumers.errors import BrokerUnavailable
from consumers.records import Coordinates, Message

log = structlog.get_logger(__name__)

BOOTSTRAP_TIMEOUT_MS = 10_000

PositionsProvider = Callable[[], dict[str, int]]


@dataclass(frozen=True)
class SourceOptions:
    """How the consumer talks to Kafka."""

    bootstrap_servers: str
    topics: tuple[str, ...]
    group_id: str = "ticketstream-ingest"
    max_poll_records: int = 2000
    # The embedded broker holds a group join for the whole rebalance timeout, which
    # kafka-python takes from max_poll_interval_ms: keep it short, batches are shorter.
    max_poll_interval_ms: int = 5000
    client_id: str = "ticketstream-consumer"


class _SeekToStoredOffsets(ConsumerRebalanceListener):
    """On assignment, start every partition right after the offset our store last applied."""

    def __init__(self, source: KafkaSource) -> None:
        self.source = source

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        log.info("partitions_revoked", partitions=len(revoked))

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        self.source.seek_to_stored(assigned)


class KafkaSource:
    """Consumer-group member that yields batches of raw messages."""

    def __init__(self, options: SourceOptions, positions: PositionsProvider) -> None:
        self.options = options
        self.positions = positions
        self._ends: dict[TopicPartition, int] | None = None
        try:
            self.consumer = KafkaConsumer(
                bootstrap_servers=options.bootstrap_servers,
                group_id=options.group_id,
                client_id=options.client_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=options.max_poll_records,
                max_poll_interval_ms=options.max_poll_interval_ms,
                session_timeout_ms=max(options.max_poll_interval_ms, 6000),
                heartbeat_interval_ms=1000,
                fetch_max_bytes=16 * 1024 * 1024,
                max_partition_fetch_bytes=4 * 1024 * 1024,
                bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
            )
        except KafkaError as err:
            raise BrokerUnavailable(f"no Kafka broker at {options.bootstrap_servers}") from err
        self.consumer.subscribe(list(options.topics), listener=_SeekToStoredOffsets(self))

    def seek_to_stored(self, partitions: Sequence[TopicPartition]) -> None:
        """Move each partition to the message after the last one our store applied."""
        stored = self.positions()
        for tp in partitions:
            last = stored.get(f"{tp.topic}:{tp.partition}")
            if last is None:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, last + 1)
        self._ends = None
        log.info("partitions_assigned", partitions=len(partitions))

    def poll(self, timeout_ms: int = 500) -> list[Message]:
        """The next batch (possibly empty)."""
        try:
            batches = self.consumer.poll(
                timeout_ms=timeout_ms, max_records=self.options.max_poll_records
            )
        except KafkaError as err:
            raise BrokerUnavailable(str(err)) from err
        return [
            Message(Coordinates(r.topic, r.partition, r.offset), r.key, r.value)
            for records in batches.values()
            for r in records
        ]

    def commit(self, positions: dict[str, int]) -> None:
        """Tell the broker how far we are (for lag tools; our store stays authoritative)."""
        offsets = {}
        for tp in self.consumer.assignment():
            last = positions.get(f"{tp.topic}:{tp.partition}")
            if last is not None:
                offsets[tp] = OffsetAndMetadata(last + 1, "", -1)
        if offsets:
            try:
                self.consumer.commit(offsets)
            except KafkaError as err:
                log.warning("offset_commit_failed", error=str(err))

    def lagging(self) -> set[str]:
        """Assigned partitions (``topic:partition``) not yet consumed up to their end."""
        behind = set()
        for tp in self.consumer.assignment():
            end = self.consumer.highwater(tp)
            if end is None or self.consumer.position(tp) < end:
                behind.add(f"{tp.topic}:{tp.partition}")
        return behind

    def drained(self) -> bool:
        """True once assigned and every assigned partition has reached its end offset."""
        assignment = self.consumer.assignment()
        if not assignment:
            return False
        if self._ends is None or set(self._ends) != assignment:
            self._ends = self.consumer.end_offsets(list(assignment))
        return all(self.consumer.position(tp) >= end for tp, end in self._ends.items())

    def close(self) -> None:
        """Leave the group and close connections."""
        self.consumer.close()
