"""Which Kafka topic carries which event type (defaults of DESIGN §2, configurable)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from contracts.events import EVENT_MODELS


class TopicMap(BaseModel):
    """Topic names for each upstream concern, plus the dead-letter topic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    received: str = "incidents.received"
    escalated: str = "incidents.escalated"
    resolved: str = "incidents.resolved"
    thanked: str = "incidents.thanked"
    lifecycle: str = "incidents.lifecycle"
    dlq: str = "incidents.dlq"

    def topic_for(self, event_type: str) -> str:
        """The topic an event of ``event_type`` is published to.

        Raises:
            KeyError: for a type outside the contract.
        """
        concern = _CONCERN_OF_TYPE[event_type]
        return str(getattr(self, concern))

    @property
    def incident_topics(self) -> tuple[str, ...]:
        """The topics a consumer subscribes to (every one but the DLQ)."""
        return (self.received, self.escalated, self.resolved, self.thanked, self.lifecycle)


_CONCERN_OF_TYPE = {event_type: model.concern for event_type, model in EVENT_MODELS.items()}
