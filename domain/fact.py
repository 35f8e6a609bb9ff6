"""A Fact: one upstream occurrence translated into domain terms, ready to be recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from hashlib import blake2b
from typing import Union

Primitive = Union[str, int, float, bool, datetime, None]
# Where a fact arrived: the name of an ordered stream (a Kafka ``topic:partition``) and its
# position (offset) there. Two facts of one stream arrived in the order of their positions.
Arrival = tuple[str, int]

# Every kind of fact, in the order preferred among facts of one instant that nothing else
# orders (DESIGN §2: event time, then the source's sequence, then the offset within one
# partition, then an order in which the incident's facts are valid together).
KINDS = (
    "received",
    "reclassified",
    "reassigned",
    "paused",
    "resumed",
    "escalated",
    "resolved",
    "reopened",
    "closed",
    "rated",
    "thanked",
)
RANK = {kind: rank for rank, kind in enumerate(KINDS)}


# eq=False: facts hash by identity, so they can key the map of rejected facts.
@dataclass(frozen=True, slots=True, eq=False)
class Fact:
    """What happened to an incident, when, and the type-specific details (primitives only).

    ``sequence`` is the source's per-incident change counter (None: unknown); ``arrival``
    where the message carrying the fact was read, when it came through an ordered stream.
    """

    kind: str
    incident_id: str
    event_id: str
    occurred_at: datetime
    source: str
    details: dict[str, Primitive] = field(default_factory=dict)
    sequence: int | None = None
    arrival: Arrival | None = None
    # What the event says, in 16 hex digits: two messages with one event_id must agree on it.
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        body = content_digest(self.kind, self.occurred_at, self.source, self.details, self.sequence)
        object.__setattr__(self, "digest", body)

    @property
    def begins_stream(self) -> bool:
        """Whether this fact may open an incident's stream."""
        return self.kind == "received" or (
            self.kind == "thanked" and bool(self.details.get("standalone"))
        )

    @property
    def sort_key(self) -> tuple[datetime, int, str]:
        """Event time, then the preferred order of kinds, then event id."""
        return (self.occurred_at, RANK[self.kind], self.event_id)


# Details the recorder derives from the others (the customer key, from the customer's phone or
# e-mail): not part of what the message says.
_DERIVED = frozenset({"customer_key"})


def content_digest(
    kind: str,
    occurred_at: datetime,
    source: str,
    details: dict[str, Primitive],
    sequence: int | None = None,
) -> str:
    """A short digest of what a fact says, blind to how its message was spelled.

    Key order, white space, absent-versus-null optional fields and ``Z``-versus-``+00:00``
    do not change it (they are gone once the message is a Fact); any value, the kind, the
    instant or its offset, or the sequence does. The event id is not part of it: it is what
    the digest is compared under; nor is where the message arrived. A fact without a
    sequence digests as it did before sequences existed, so stored digests stay valid.
    """
    canonical = repr(
        (kind, occurred_at.isoformat(), source, sorted(
            (name, value.isoformat() if isinstance(value, datetime) else value)
            for name, value in details.items() if name not in _DERIVED
        ))
    )  # fmt: skip
    if sequence is not None:
        canonical += f"#{sequence}"
    return blake2b(canonical.encode(), digest_size=8).hexdigest()
