"""Creating the incident topics and the dead-letter topic when they do not exist yet."""

from __future__ import annotations

import structlog
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from consumers.errors import BrokerUnavailable
from contracts.routing import TopicMap
from ticketstream.errors import TicketstreamError

log = structlog.get_logger(__name__)


def ensure_topics(bootstrap_servers: str, topics: TopicMap, partitions: int) -> None:
    """Create any missing topic of ``topics`` with ``partitions`` partitions.

    Raises:
        BrokerUnavailable: when the broker cannot be reached.
        TicketstreamError: when it refuses to create them.
    """
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            client_id="ticketstream-admin",
            bootstrap_timeout_ms=10_000,
        )
    except KafkaError:
        raise BrokerUnavailable(f"no Kafka broker reachable at {bootstrap_servers}") from None
    try:
        existing = set(admin.list_topics())
        wanted = [*topics.incident_topics, topics.dlq]
        missing = [NewTopic(t, partitions, 1) for t in wanted if t not in existing]
        if missing:
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
            log.info("topics_created", topics=[t.name for t in missing], partitions=partitions)
    except KafkaError as err:
        raise TicketstreamError(f"cannot create topics on {bootstrap_servers}: {err}") from None
    finally:
        admin.close()
