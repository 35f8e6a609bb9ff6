"""The publisher SDK for upstream systems: validated events to the right topic, acknowledged."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog
from kafka import KafkaProducer
from kafka.errors import KafkaError

from contracts.codec import encode, message_key
from contracts.events import EventBase
from contracts.routing import TopicMap
from producers.errors import PublishError

log = structlog.get_logger(__name__)


class Publisher:
    """Publishes contract events: key = incident_id, topic by type, acks from all replicas."""

    def __init__(self, producer: KafkaProducer, topics: TopicMap | None = None) -> None:
        self.producer = producer
        self.topics = topics or TopicMap()

    @classmethod
    def connect(
        cls, bootstrap_servers: str, topics: TopicMap | None = None, **config: Any
    ) -> Publisher:
        """A publisher with its own producer (acks=all, idempotent-friendly settings).

        Raises:
            PublishError: when no broker answers at ``bootstrap_servers``.
        """
        settings: dict[str, Any] = {
            "acks": "all",
            "linger_ms": 5,
            "batch_size": 256 * 1024,
            "max_in_flight_requests_per_connection": 1,
            "retries": 5,
            "client_id": "ticketstream-publisher",
            "bootstrap_timeout_ms": 10_000,
        }
        settings.update(config)
        try:
            producer = KafkaProducer(bootstrap_servers=bootstrap_servers, **settings)
        except KafkaError as err:
            raise PublishError(f"no Kafka broker at {bootstrap_servers}") from err
        return cls(producer, topics)

    def publish(self, events: Iterable[EventBase]) -> int:
        """Send every event and wait until the broker has acknowledged each one.

        Raises:
            PublishError: naming the first event whose send failed.
        """
        pending = []
        for event in events:
            topic = self.topics.topic_for(getattr(event, "type"))
            future = self.producer.send(
                topic,
                key=message_key(event),
                value=encode(event),
                # Event time as the record time lets consumers align topics by it.
                timestamp_ms=int(event.occurred_at.timestamp() * 1000),
            )
            pending.append((event, future))
        self.producer.flush()
        for event, future in pending:
            try:
                future.get(timeout=30)
            except KafkaError as err:
                raise PublishError(
                    f"event {event.event_id} of incident {event.incident_id} not published: {err}"
                ) from err
        log.info("events_published", count=len(pending))
        return len(pending)

    def close(self) -> None:
        """Flush and close the producer."""
        self.producer.close()
