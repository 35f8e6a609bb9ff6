"""How far the event store has applied each partition of the incident topics."""

from __future__ import annotations

from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from consumers.errors import BrokerUnavailable
from consumers.kafka_source import BOOTSTRAP_TIMEOUT_MS, log_ends


@dataclass(frozen=True)
class PartitionLag:
    """One partition: where its log ends, the last offset the store applied, and the gap."""

    partition: str  # topic:partition
    end: int
    applied: int | None  # None: nothing of it applied yet

    @property
    def lag(self) -> int:
        """Records in Kafka the store has not applied."""
        return max(self.end - (-1 if self.applied is None else self.applied) - 1, 0)


def partition_lags(
    bootstrap_servers: str, topics: tuple[str, ...], applied: dict[str, int]
) -> list[PartitionLag]:
    """Every partition of ``topics`` against ``applied`` (``topic:partition`` → last offset).

    Raises:
        BrokerUnavailable: the broker does not answer.
    """
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap_servers, group_id=None,
            bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
        )  # fmt: skip
        try:
            partitions = [
                TopicPartition(topic, p)
                for topic in topics
                for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
        finally:
            consumer.close()
        ends = log_ends(bootstrap_servers, partitions) if partitions else {}
    except KafkaError as err:
        raise BrokerUnavailable(f"no Kafka broker at {bootstrap_servers}") from err
    return [
        PartitionLag(name, ends[tp], applied.get(name))
        for tp in partitions
        for name in [f"{tp.topic}:{tp.partition}"]
    ]
