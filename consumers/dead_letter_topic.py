"""Publishes stored dead letters to the dead-letter topic (an outbox: stored first, sent after)."""

from __future__ import annotations

from typing import Protocol

import structlog
from kafka import KafkaProducer

from consumers.ingest_recorder import StoredDeadLetter

log = structlog.get_logger(__name__)


class DeadLetterStore(Protocol):
    """Where the dead letters wait to be published."""

    def dead_letters(
        self,
        *,
        reason: str | None = None,
        unpublished_only: bool = False,
        open_only: bool = False,
        limit: int = 1000,
    ) -> list[StoredDeadLetter]: ...

    def mark_published(self, letter_ids: list[int]) -> None: ...


class DeadLetterOutbox(Protocol):
    """Forwards the stored dead letters that are not yet sent."""

    def publish_pending(self) -> int: ...


class DeadLetterTopic:
    """Sends every unpublished dead letter, with its reason and coordinates as headers."""

    def __init__(self, producer: KafkaProducer, topic: str, store: DeadLetterStore) -> None:
        self.producer = producer
        self.topic = topic
        self.store = store

    def publish_pending(self) -> int:
        """Publish what is stored but not yet on the topic; return how many were sent."""
        sent = 0
        while letters := self.store.dead_letters(unpublished_only=True, limit=1000):
            log.debug("dead_letters_publishing", topic=self.topic, count=len(letters))
            futures = [self._send(stored) for stored in letters]
            self.producer.flush()
            for future in futures:
                future.get(timeout=30)
            self.store.mark_published([stored.id for stored in letters])
            sent += len(letters)
        if sent:
            log.info("dead_letters_published", topic=self.topic, count=sent)
        return sent

    def _send(self, stored: StoredDeadLetter):  # type: ignore[no-untyped-def]
        letter = stored.letter
        c = letter.message.coordinates
        headers = [
            ("dlq.id", str(stored.id).encode()),
            ("dlq.reason", letter.reason.encode()),
            ("dlq.detail", letter.detail.encode()),
            ("dlq.topic", c.topic.encode()),
            ("dlq.partition", str(c.partition).encode()),
            ("dlq.offset", str(c.offset).encode()),
        ]
        return self.producer.send(
            # Sealed as stored when it carries personal data: an erasure covers the topic too.
            self.topic, key=letter.message.key, value=letter.stored_value or letter.message.value,
            headers=headers,
        )
