"""The consumer's release order across partitions, and when everything counts as read.

kafka-python's consumer is replaced at the port by a small stand-in that answers what the
release logic asks (assignment, high watermarks, positions); fetching is done by handing
records to the source as a poll would.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kafka import TopicPartition

from consumers.kafka_source import KafkaSource, SourceOptions

TOPICS = ("t.received", "t.resolved", "t.lifecycle")
MINUTE = 60_000


@dataclass(frozen=True)
class Record:
    """The fields of kafka-python's ConsumerRecord that the source reads."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None = None
    value: bytes = b"{}"


@dataclass
class StandInConsumer:
    """Answers assignment, high watermarks and positions like kafka-python's consumer."""

    ends: dict[TopicPartition, int]
    positions: dict[TopicPartition, int] = field(default_factory=dict)

    def assignment(self) -> set[TopicPartition]:
        return set(self.ends)

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.ends[tp]

    def position(self, tp: TopicPartition) -> int:
        return self.positions.get(tp, 0)

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {tp.partition for tp in self.ends if tp.topic == topic}

    paused_now: set[TopicPartition] = field(default_factory=set)

    def pause(self, *partitions: TopicPartition) -> None:
        self.paused_now.update(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self.paused_now.difference_update(partitions)

    def paused(self) -> set[TopicPartition]:
        return set(self.paused_now)


def source_over(consumer: Any, max_skew_ms: int = 10 * MINUTE) -> KafkaSource:
    source = KafkaSource.__new__(KafkaSource)  # no broker: the consumer is the stand-in
    source.options = SourceOptions("unused:9092", TOPICS, max_skew_ms=max_skew_ms)
    source.consumer = consumer
    source._buffer, source._fetched_times, source._buffered = {}, {}, 0
    return source


def fetched(source: KafkaSource, records: list[Record]) -> None:
    """Hand records to the source as a poll would, and move the stand-in's positions."""
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        source._buffer.setdefault(tp, deque()).append(record)  # type: ignore[arg-type]
        source._fetched_times[tp] = record.timestamp
        source._buffered += 1
        positions = source.consumer.positions
        positions[tp] = max(positions.get(tp, 0), record.offset + 1)


def all_read(records: list[Record], extra: dict[TopicPartition, int] | None = None) -> StandInConsumer:
    ends: dict[TopicPartition, int] = dict(extra or {})
    for r in records:
        tp = TopicPartition(r.topic, r.partition)
        ends[tp] = max(ends.get(tp, 0), r.offset + 1)
    return StandInConsumer(ends)


def in_partition_order(records: list[Record]) -> list[Record]:
    """The interleaving kept, each partition's records put back in offset order (as fetched)."""
    slots: dict[tuple[str, int], list[int]] = {}
    for index, r in enumerate(records):
        slots.setdefault((r.topic, r.partition), []).append(index)
    result = list(records)
    for places in slots.values():
        for place, record in zip(places, sorted((records[i] for i in places), key=lambda r: r.offset)):
            result[place] = record
    return result


def coordinates(records: list[Any]) -> list[tuple[str, int, int]]:
    return [(r.topic, r.partition, r.offset) for r in records]


def test_records_are_released_oldest_record_time_first_across_partitions() -> None:
    records = [
        Record("t.resolved", 0, 0, 3 * MINUTE), Record("t.received", 0, 0, 1 * MINUTE),
        Record("t.received", 0, 1, 4 * MINUTE), Record("t.lifecycle", 1, 0, 2 * MINUTE),
    ]  # fmt: skip
    source = source_over(all_read(records))
    fetched(source, records)

    released = source._release()

    assert [r.timestamp for r in released] == [1 * MINUTE, 2 * MINUTE, 3 * MINUTE, 4 * MINUTE]


@given(st.permutations(range(6)))
def test_records_of_one_millisecond_go_by_topic_then_partition_then_offset_whatever_the_buffer(
    arrival: list[int],
) -> None:
    same = 1_700_000_000_000  # a raw client's wall clock: many records share a millisecond
    records = [
        Record("t.lifecycle", 0, 0, same), Record("t.resolved", 1, 0, same),
        Record("t.received", 1, 0, same), Record("t.received", 0, 0, same),
        Record("t.received", 0, 1, same), Record("t.resolved", 0, 0, same),
    ]  # fmt: skip
    source = source_over(all_read(records))
    fetched(source, in_partition_order([records[i] for i in arrival]))

    released = source._release()

    assert coordinates(released) == [
        ("t.received", 0, 0), ("t.received", 0, 1), ("t.received", 1, 0),
        ("t.resolved", 0, 0), ("t.resolved", 1, 0), ("t.lifecycle", 0, 0),
    ]  # fmt: skip


def test_a_lagging_partition_holds_back_records_more_than_the_skew_ahead_of_it() -> None:
    slow = TopicPartition("t.received", 0)
    records = [Record("t.resolved", 0, 0, 5 * MINUTE), Record("t.resolved", 0, 1, 20 * MINUTE)]
    consumer = all_read(records, extra={slow: 10})
    source = source_over(consumer)
    source._fetched_times[slow] = 1 * MINUTE  # fetched up to 1 min, more to come
    fetched(source, records)

    released = source._release()

    assert coordinates(released) == [("t.resolved", 0, 0)]
    assert source._buffered == 1


def test_a_lagging_partition_that_delivered_nothing_yet_holds_everything_back() -> None:
    records = [Record("t.resolved", 0, 0, 5 * MINUTE)]
    source = source_over(all_read(records, extra={TopicPartition("t.received", 0): 3}))
    fetched(source, records)

    assert source._release() == []


def test_an_empty_partition_holds_nothing_back() -> None:
    records = [Record("t.resolved", 0, 0, 5 * MINUTE)]
    source = source_over(all_read(records, extra={TopicPartition("t.received", 0): 0}))
    fetched(source, records)

    assert coordinates(source._release()) == [("t.resolved", 0, 0)]


def test_a_revoked_partitions_buffered_records_are_dropped() -> None:
    records = [Record("t.resolved", 0, 0, 5 * MINUTE), Record("t.received", 0, 0, 6 * MINUTE)]
    source = source_over(all_read(records))
    fetched(source, records)

    source.forget([TopicPartition("t.resolved", 0)])

    assert coordinates(source._release()) == [("t.received", 0, 0)]


# --- when everything counts as read -----------------------------------------------------------


def test_nothing_counts_as_read_while_records_wait_in_the_buffer() -> None:
    records = [Record("t.received", 0, 0, MINUTE)]
    source = source_over(all_read(records))
    fetched(source, records)

    assert not source.read_to_end(dict)
    source._release()
    assert source.read_to_end(dict)


def test_nothing_counts_as_read_while_an_assigned_partition_has_data_not_fetched() -> None:
    source = source_over(StandInConsumer({TopicPartition("t.received", 0): 4}))

    assert not source.read_to_end(dict)


@pytest.mark.parametrize(("applied", "read"), [({"t.lifecycle:0": 6}, True), ({"t.lifecycle:0": 5}, False), ({}, False)])
def test_partitions_of_other_members_count_as_read_once_the_store_applied_them_to_their_end(
    applied: dict[str, int], read: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = StandInConsumer({TopicPartition("t.received", 0): 0})
    theirs = TopicPartition("t.lifecycle", 0)
    source = source_over(mine)
    monkeypatch.setattr(source, "_partitions", lambda: [*mine.ends, theirs])
    monkeypatch.setattr(source, "_log_ends", lambda partitions: {theirs: 7})

    assert source.read_to_end(lambda: applied) is read


def heap_merge(buffer: dict[TopicPartition, list[Record]], limit: int | None, room: int) -> list[Record]:
    """The release order by its definition: one record at a time, the oldest head first."""
    rank = {topic: n for n, topic in enumerate(TOPICS)}
    queues = {tp: deque(q) for tp, q in buffer.items() if q}
    released: list[Record] = []
    while queues and len(released) < room:
        tp = min(queues, key=lambda t: (queues[t][0].timestamp, rank[t.topic], t.partition, queues[t][0].offset))
        if limit is not None and queues[tp][0].timestamp > limit:
            break
        released.append(queues[tp].popleft())
        if not queues[tp]:
            del queues[tp]
    return released


@given(
    st.lists(
        st.tuples(st.sampled_from(TOPICS), st.integers(0, 2), st.integers(0, 5)), max_size=40
    ),
    st.integers(1, 50),
    st.none() | st.integers(0, 5),
)
def test_records_are_released_in_the_order_of_one_record_at_a_time_from_the_oldest_head(
    drawn: list[tuple[str, int, int]], room: int, lagging_time: int | None
) -> None:
    # Record times need not grow within a partition (CreateTime is the producer's clock).
    offsets: dict[tuple[str, int], int] = {}
    records = []
    for topic, partition, minute in drawn:
        offset = offsets[(topic, partition)] = offsets.get((topic, partition), -1) + 1
        records.append(Record(topic, partition, offset, minute * MINUTE))
    slow = TopicPartition("t.lifecycle", 9)  # fetched up to lagging_time, more data in Kafka
    consumer = all_read(records, {slow: 2})
    source = source_over(consumer, max_skew_ms=MINUTE)
    source.options = SourceOptions("unused:9092", TOPICS, max_skew_ms=MINUTE, max_poll_records=room)
    fetched(source, records)
    limit = None
    if lagging_time is not None:
        source._fetched_times[slow] = lagging_time * MINUTE
        consumer.positions[slow] = 1
        limit = lagging_time * MINUTE + MINUTE
    else:
        consumer.positions[slow] = 2
    expected = heap_merge({tp: list(q) for tp, q in source._buffer.items()}, limit, room)

    assert coordinates(source._release()) == coordinates(expected)


# --- fetching held back while a partition's records wait here -----------------------------------


def _flood(topic: str, count: int, start_minute: int = 0) -> list[Record]:
    return [Record(topic, 0, n, (start_minute + n) * MINUTE) for n in range(count)]


def test_a_partition_holding_its_share_is_not_fetched_from_until_half_of_it_is_released() -> None:
    ahead = _flood("t.lifecycle", 8, start_minute=10_000)  # far ahead in record time
    behind = TopicPartition("t.received", 0)
    consumer = all_read(ahead, {behind: 100})
    consumer.positions[behind] = 10  # fetched up to minute 0, more of it in Kafka
    source = source_over(consumer)
    source.options = SourceOptions("unused:9092", TOPICS, max_partition_records=8)
    source._fetched_times[behind] = 0
    fetched(source, ahead)
    lifecycle = TopicPartition("t.lifecycle", 0)

    assert source._release() == []  # held back by the lagging partition
    source._throttle()
    assert consumer.paused_now == {lifecycle}  # waits in Kafka now, not in memory
    assert behind not in consumer.paused_now  # the one everything waits for keeps fetching

    fetched(source, _flood("t.received", 1, start_minute=10_005))  # it caught up
    source.options = SourceOptions("unused:9092", TOPICS, max_partition_records=8, max_poll_records=3)
    assert [r.offset for r in source._release()] == [0, 1, 2]
    source._throttle()
    assert consumer.paused_now == {lifecycle}  # 5 of 8 still here
    assert [r.topic for r in source._release()] == ["t.lifecycle", "t.lifecycle", "t.received"]
    source._throttle()
    assert consumer.paused_now == set()  # 3 left, half the share: fetched from again


def _paused_with(records: list[Record]) -> tuple[KafkaSource, StandInConsumer]:
    """A source holding these records of one partition, its share: the partition paused."""
    consumer = all_read(records)
    source = source_over(consumer)
    source.options = SourceOptions("unused:9092", TOPICS, max_partition_records=len(records))
    fetched(source, records)
    source._throttle()
    assert consumer.paused_now == {TopicPartition(records[0].topic, 0)}
    return source, consumer


def test_a_partition_is_never_paused_with_nothing_to_release() -> None:
    source, consumer = _paused_with(_flood("t.received", 6))

    assert len(source._release()) == 6
    source._throttle()
    assert consumer.paused_now == set()


def test_a_partition_whose_buffer_was_dropped_while_paused_is_fetched_from_again() -> None:
    """A re-seek after an outage drops what is held for a partition: if it stayed paused it
    would be lagging with nothing to release and nothing fetched, holding everything back."""
    source, consumer = _paused_with(_flood("t.resolved", 4))

    source.forget([TopicPartition("t.resolved", 0)])
    source._throttle()

    assert consumer.paused_now == set()
