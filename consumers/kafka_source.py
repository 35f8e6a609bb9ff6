"""A thin wrapper over kafka-python's consumer: batches of Messages, positions from our store."""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog
from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from consumers.errors import BrokerUnavailable, ConsumerError
from consumers.records import Coordinates, Message

log = structlog.get_logger(__name__)

BOOTSTRAP_TIMEOUT_MS = 10_000
# kafka-python reconnects silently: an idle poll asks the broker something at most this often
# so that an outage surfaces as BrokerUnavailable instead of endless empty batches.
PROBE_INTERVAL_SECONDS = 1.0
PROBE_TIMEOUT_MS = 3000
COMMIT_TIMEOUT_MS = 3000

PositionsProvider = Callable[[], dict[str, int]]


@dataclass(frozen=True)
class SourceOptions:
    """How the consumer talks to Kafka."""

    bootstrap_servers: str
    topics: tuple[str, ...]
    group_id: str | None = "ticketstream-ingest"  # None: no group (a replay's own reader)
    max_poll_records: int = 10_000
    # The embedded broker holds a group join for the whole rebalance timeout, which
    # kafka-python takes from max_poll_interval_ms: keep it short, batches are shorter.
    max_poll_interval_ms: int = 3000
    # Tansu holds a group join for about this long; real Kafka wants at least 6000.
    session_timeout_ms: int = 10_000
    client_id: str = "ticketstream-consumer"
    # How far (in record time) a released record may be ahead of the slowest partition
    # still lagging: keeps topics roughly in step, so few events arrive early.
    max_skew_ms: int = 10 * 60 * 1000
    # Past this many held-back records, release regardless of skew (bounds memory).
    max_buffered_records: int = 200_000
    # A partition holding this many records is not fetched from until half of them are
    # released: a topic far ahead in record time then waits in Kafka, not in memory.
    max_partition_records: int = 5_000


class _SeekToStoredOffsets(ConsumerRebalanceListener):
    """On assignment, start every partition right after the offset our store last applied."""

    def __init__(self, source: KafkaSource) -> None:
        self.source = source

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        self.source.forget(revoked)
        log.info("partitions_revoked", partitions=len(revoked))

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        # kafka-python swallows listener errors into a generic KafkaError: keep the
        # partitions unpositioned instead, so the next poll seeks them (and can fail loudly).
        self.source.unseeked.update(assigned)
        try:
            self.source.seek_to_stored(assigned)
        except Exception as err:  # noqa: BLE001 - retried by the next poll, see above
            log.warning("partition_seek_deferred", partitions=len(assigned), error=type(err).__name__)


class KafkaSource:
    """Consumer-group member that yields batches of raw messages."""

    def __init__(self, options: SourceOptions, positions: PositionsProvider) -> None:
        self.options = options
        self.positions = positions
        self._ends: dict[TopicPartition, int] | None = None
        self._buffer: dict[TopicPartition, deque[ConsumerRecord]] = {}
        self._fetched_times: dict[TopicPartition, int] = {}
        self._buffered = 0
        self._heard_from_broker = time.monotonic()
        # Assigned partitions not yet moved to the store's position: fetched records of
        # theirs are dropped until they are.
        self.unseeked: set[TopicPartition] = set()
        try:
            self.consumer = KafkaConsumer(
                bootstrap_servers=options.bootstrap_servers,
                group_id=options.group_id,
                client_id=options.client_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=options.max_poll_records,
                max_poll_interval_ms=options.max_poll_interval_ms,
                session_timeout_ms=options.session_timeout_ms,
                heartbeat_interval_ms=max(options.session_timeout_ms // 3, 100),
                fetch_max_bytes=32 * 1024 * 1024,
                max_partition_fetch_bytes=1024 * 1024,
                bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
                fetch_max_wait_ms=100,
            )
        except KafkaError as err:
            raise BrokerUnavailable(f"no Kafka broker at {options.bootstrap_servers}") from err
        self._start()

    def _start(self) -> None:
        """Join the group: partitions come with assignments, positioned by the store."""
        self.consumer.subscribe(list(self.options.topics), listener=_SeekToStoredOffsets(self))

    def seek_to_stored(self, partitions: Sequence[TopicPartition], why: str = "assigned") -> None:
        """Move each partition to the message after the last one our store applied."""
        stored = self.positions()
        for tp in partitions:
            last = stored.get(f"{tp.topic}:{tp.partition}")
            if last is None:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, last + 1)
        self.forget(partitions)
        self.unseeked.difference_update(partitions)
        log.info(f"partitions_{why}", partitions=len(partitions))

    def reseek(self) -> None:
        """Move every assigned partition back to the store's position (after an outage)."""
        self.unseeked.update(self.consumer.assignment())
        self._seek_unseeked()

    def _seek_unseeked(self) -> None:
        current = self.unseeked & self.consumer.assignment()
        self.unseeked = current
        if current:
            self.seek_to_stored(sorted(current), why="reseeked")

    def forget(self, partitions: Sequence[TopicPartition]) -> None:
        """Drop what is held back for these partitions (they are revoked or re-seeked)."""
        for tp in partitions:
            self._buffered -= len(self._buffer.pop(tp, ()))
            self._fetched_times.pop(tp, None)

    def poll(self, timeout_ms: int = 500) -> list[Message]:
        """The next batch (possibly empty), kept roughly in record-time step across partitions.

        Raises:
            BrokerUnavailable: the broker is out of reach (transient: poll again later).
            ConsumerError: the broker refused us for good.
            eventsourcing.persistence.OperationalError: positioning a newly assigned
                partition needs the event store, which is out of reach.
        """
        self._seek_unseeked()
        if self._buffered:
            timeout_ms = 10  # records are waiting here: mostly take what is already fetched
        _unstick_resumed_fetches(self.consumer)
        try:
            fetched = self.consumer.poll(
                timeout_ms=timeout_ms, max_records=self.options.max_poll_records
            )
            if fetched:
                self._heard_from_broker = time.monotonic()
            elif time.monotonic() - self._heard_from_broker > PROBE_INTERVAL_SECONDS:
                self._probe()
        except KafkaError as err:
            if err.retriable:
                raise BrokerUnavailable(str(err)) from err
            raise ConsumerError(f"Kafka refused the consumer: {err}") from err
        self._seek_unseeked()
        for tp, fetched_records in fetched.items():
            records = self._admit(tp, fetched_records)
            if not records:
                continue
            self._buffer.setdefault(tp, deque()).extend(records)
            self._fetched_times[tp] = records[-1].timestamp
            self._buffered += len(records)
        released = self._release()
        self._throttle()
        return [Message(Coordinates(r.topic, r.partition, r.offset), r.key, r.value) for r in released]

    def _throttle(self) -> None:
        """Pause fetching partitions holding ``max_partition_records`` here; resume them once
        they hold half as many (so a partition is never paused with little to release).

        The consumer's own paused set is the truth: a partition re-seeked or reassigned while
        paused (its buffer dropped) is resumed here too.
        """
        most = self.options.max_partition_records
        paused = self.consumer.paused()
        full = {tp for tp, q in self._buffer.items() if len(q) >= most} & self.consumer.assignment()
        if pause := full - paused:
            self.consumer.pause(*pause)
        if refill := {tp for tp in paused if len(self._buffer.get(tp, ())) <= most // 2}:
            self.consumer.resume(*refill)

    def _admit(self, tp: TopicPartition, records: list[ConsumerRecord]) -> list[ConsumerRecord]:
        """The fetched records of a partition that are ours to release (all of them here)."""
        return records

    def _probe(self) -> None:
        """Ask the broker a cheap question; a timeout means it is out of reach."""
        first = TopicPartition(self.options.topics[0], 0)
        self.consumer.end_offsets([first], timeout_ms=PROBE_TIMEOUT_MS)
        self._heard_from_broker = time.monotonic()

    def _release(self) -> list[ConsumerRecord]:
        """Buffered records in record-time order, up to what the slowest partition allows.

        Topics are fetched at different speeds. Records are released oldest first across
        partitions, and never more than ``max_skew_ms`` past a partition that has more
        data in Kafka but none fetched here yet: an incident's `received` then comes
        before its `resolved` from another topic. Records of one record time (raw clients
        stamp wall-clock milliseconds, shared by many) go by the topics' order of
        subscription (`received` first), then partition, then offset — never by where
        they happen to sit in the buffer, so the release order is the same run after run.
        """
        limit = self._release_limit()
        rank = {topic: n for n, topic in enumerate(self.options.topics)}
        heads = [
            (q[0].timestamp, rank.get(tp.topic, len(rank)), tp.partition, q[0].offset, tp)
            for tp, q in self._buffer.items()
            if q
        ]
        heapq.heapify(heads)
        batch: list[ConsumerRecord] = []
        room = self.options.max_poll_records
        while heads and room:
            timestamp, topic_rank, partition, _, tp = heapq.heappop(heads)
            if limit is not None and timestamp > limit:
                break
            records = self._buffer[tp]
            batch.append(records.popleft())
            room -= 1
            # The partition's next records, while each is still the oldest of all (as the
            # heap would pop them): taken without going through the heap.
            following = heads[0] if heads else None
            while records and room:
                head = records[0]
                key = (head.timestamp, topic_rank, partition, head.offset, tp)
                if following is not None and key > following:
                    heapq.heappush(heads, key)
                    break
                if limit is not None and head.timestamp > limit:
                    heads.clear()  # the oldest record left is past the limit: done
                    break
                batch.append(records.popleft())
                room -= 1
        self._buffered -= len(batch)
        return batch

    def _release_limit(self) -> int | None:
        """The newest record time that may be released now (None: no limit)."""
        if self._buffered > self.options.max_buffered_records:
            return None
        waiting = [
            tp for tp in self.consumer.assignment()
            if not self._buffer.get(tp) and self._is_lagging(tp)
        ]
        if not waiting:
            return None
        times = [self._fetched_times.get(tp) for tp in waiting]
        if None in times:
            return -1  # a lagging partition has delivered nothing yet: wait for it
        return min(t for t in times if t is not None) + self.options.max_skew_ms

    def _is_lagging(self, tp: TopicPartition) -> bool:
        end = self.consumer.highwater(tp)
        return end is None or self.consumer.position(tp) < end

    def commit(self, positions: dict[str, int]) -> None:
        """Tell the broker how far we are (for lag tools; our store stays authoritative)."""
        offsets = {}
        for tp in self.consumer.assignment():
            last = positions.get(f"{tp.topic}:{tp.partition}")
            if last is not None:
                offsets[tp] = OffsetAndMetadata(last + 1, "", -1)
        if offsets:
            try:
                # Bounded: without a timeout the commit waits out a broker outage.
                self.consumer.commit(offsets, timeout_ms=COMMIT_TIMEOUT_MS)
            except KafkaError as err:
                log.warning("offset_commit_failed", error=str(err))

    def lagging(self) -> set[str]:
        """Assigned partitions (``topic:partition``) not yet consumed up to their end."""
        return {
            f"{tp.topic}:{tp.partition}"
            for tp in self.consumer.assignment()
            if self._is_lagging(tp) or self._buffer.get(tp)
        }

    def drained(self, stored: PositionsProvider) -> bool:
        """True once every partition of the topics is applied up to the end it had at the first ask.

        ``stored`` gives the offsets the event store has applied — by any member of the
        group — so a partition still held by a member that died (until the broker notices)
        keeps this false instead of being skipped.
        """
        if self._buffered or not self.consumer.assignment():
            return False
        if self._ends is None:
            self._ends = self._log_ends(self._partitions())
        applied = stored()
        done = all(
            applied.get(f"{tp.topic}:{tp.partition}", -1) + 1 >= end
            for tp, end in self._ends.items()
        )
        if done:
            log.info(
                "end_reached", partitions=len(self._ends), messages=sum(self._ends.values()),
                ends={f"{tp.topic}:{tp.partition}": e for tp, e in self._ends.items()},
                applied=applied,
            )
        return done

    def read_to_end(self, stored: PositionsProvider) -> bool:
        """Whether no partition of the topics holds data that is neither applied nor in hand.

        Partitions assigned here count as read when fetched to their high watermark and
        released; the others (held by other group members, or by nobody during a
        rebalance) when the event store has applied them up to their current end.
        """
        assignment = self.consumer.assignment()
        if not assignment or self.lagging():
            return False
        others = [tp for tp in self._partitions() if tp not in assignment]
        if not others:
            return True
        applied = stored()
        return all(
            applied.get(f"{tp.topic}:{tp.partition}", -1) + 1 >= end
            for tp, end in self._log_ends(others).items()
        )

    def _partitions(self) -> list[TopicPartition]:
        return [
            TopicPartition(topic, p)
            for topic in self.options.topics
            for p in sorted(self.consumer.partitions_for_topic(topic) or ())
        ]

    def _log_ends(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return log_ends(self.options.bootstrap_servers, partitions)

    def close(self) -> None:
        """Leave the group and close connections."""
        self.consumer.close()


def _unstick_resumed_fetches(consumer: KafkaConsumer) -> None:
    """Let kafka-python hand over the records it parked for a paused partition once resumed.

    kafka-python 3.0.12 restores parked records only when its in-line record set is None, but
    leaves a drained (falsy) one in place after a poll, and never fetches a partition that has
    parked records: a partition paused with a fetch in flight (`KafkaSource._throttle`) was
    then never read again and the consumer stalled. A drained record set holds nothing, so
    clearing it is what the library means to do (``if not self._next_partition_records``).
    """
    fetcher = getattr(consumer, "_fetcher", None)
    if fetcher is None or not getattr(fetcher, "_paused_partition_records", None):
        return
    current = getattr(fetcher, "_next_partition_records", None)
    if current is not None and not current:
        fetcher._next_partition_records = None


def log_ends(bootstrap_servers: str, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
    """Where each partition's log ends, as fetch responses tell it.

    Tansu 0.6 answers ListOffsets(latest) too low under load (and always 1 on its S3
    engine), while the high watermark of a fetch response is right: fetch a little
    from each partition with a group-less consumer and take the larger of the two.

    Raises:
        BrokerUnavailable: no high watermark came back in time.
    """
    probe = KafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=None,
        enable_auto_commit=False, max_partition_fetch_bytes=1024, fetch_max_wait_ms=10,
        bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
    )
    try:
        probe.assign(partitions)
        reported: dict[TopicPartition, int] = probe.end_offsets(partitions)
        for tp in partitions:
            probe.seek(tp, max(reported[tp] - 1, 0))
        deadline = time.monotonic() + PROBE_TIMEOUT_MS / 100
        while any(probe.highwater(tp) is None for tp in partitions):
            if time.monotonic() > deadline:
                raise BrokerUnavailable("no high watermark from the broker")
            probe.poll(timeout_ms=100)
        return {tp: max(reported[tp], probe.highwater(tp)) for tp in partitions}
    finally:
        probe.close()
