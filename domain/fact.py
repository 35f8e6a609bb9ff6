"""A Fact: one upstream occurrence translated into domain terms, ready to be recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from hashlib import blake2b
from typing import Union

Primitive = Union[str, int, float, bool, datetime, None]

KINDS = (
    "received",
    "escalated",
    "resolved",
    "thanked",
    "reopened",
    "paused",
    "resumed",
    "rated",
)
# Among facts at the same instant, the order in which they make sense.
RANK = {kind: rank for rank, kind in enumerate(
    ("received", "paused", "resumed", "escalated", "resolved", "reopened", "rated", "thanked")
)}


# eq=False: facts hash by identity, so they can key the map of rejected facts.
@dataclass(frozen=True, slots=True, eq=False)
class Fact:
    """What happened to an incident, when, and the type-specific details (primitives only)."""

    kind: str
    incident_id: str
    event_id: str
    occurred_at: datetime
    source: str
    details: dict[str, Primitive] = field(default_factory=dict)
    # What the event says, in 16 hex digits: two messages with one event_id must agree on it.
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        body = content_digest(self.kind, self.occurred_at, self.source, self.details)
        object.__setattr__(self, "digest", body)

    @property
    def begins_stream(self) -> bool:
        """Whether this fact may open an incident's stream."""
        return self.kind == "received" or (
            self.kind == "thanked" and bool(self.details.get("standalone"))
        )

    @property
    def sort_key(self) -> tuple[datetime, int, str]:
        """Event-time order, made total by kind rank and event id."""
        return timeline_key(self.occurred_at, self.kind, self.event_id)


def timeline_key(occurred_at: datetime, kind: str, event_id: str) -> tuple[datetime, int, str]:
    """The total event-time order of an incident's facts."""
    return (occurred_at, RANK[kind], event_id)


def content_digest(
    kind: str, occurred_at: datetime, source: str, details: dict[str, Primitive]
) -> str:
    """A short digest of what a fact says, blind to how its message was spelled.

    Key order, white space, absent-versus-null optional fields and ``Z``-versus-``+00:00``
    do not change it (they are gone once the message is a Fact); any value, the kind, the
    instant or its offset does. The event id is not part of it: it is what the digest is
    compared under.
    """
    canonical = repr(
        (kind, occurred_at.isoformat(), source, sorted(
            (name, value.isoformat() if isinstance(value, datetime) else value)
            for name, value in details.items()
        ))
    )  # fmt: skip
    return blake2b(canonical.encode(), digest_size=8).hexdigest()
