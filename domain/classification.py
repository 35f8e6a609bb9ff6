"""How an incident was classified over time: priority, category, channel and the group holding it."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from domain.calendar import as_utc
from domain.incident import Incident

# The department that receives every incident and holds it until it is reassigned (DESIGN §1).
CUSTOMER_SERVICE = "customer_service"


@dataclass(frozen=True)
class Classification:
    """What an incident is and who holds it, from one moment on.

    ``department`` is the source department that handed it over (it never changes);
    ``holder`` the group holding it: Customer Service, which received it, until a
    reassignment.
    """

    channel: str
    category: str | None
    priority: str
    department: str
    holder: str


@dataclass(frozen=True)
class ClassificationHistory:
    """An incident's classification from its receipt on, changing at each reclassification
    or reassignment, in timeline order (instants in UTC)."""

    since: tuple[datetime, ...]
    values: tuple[Classification, ...]

    @property
    def final(self) -> Classification:
        """The classification after every known change."""
        return self.values[-1]

    def at(self, instant: datetime) -> Classification:
        """The classification in force at ``instant`` (changes at that instant included)."""
        index = bisect_right(self.since, as_utc(instant)) - 1
        return self.values[max(index, 0)]


def classification_history(
    ordered: Sequence[Incident.Event], instants: Sequence[datetime] | None = None
) -> ClassificationHistory | None:
    """The classification history of one incident's events in timeline order.

    ``instants``: the events' instants in UTC, when known (else read from the events).
    None for a stream without its receipt (or a standalone thanks contact).
    """
    at = instants or [as_utc(datetime.fromisoformat(e.occurred_at)) for e in ordered]
    index = next((i for i, e in enumerate(ordered) if isinstance(e, Incident.Received)), None)
    if index is None:
        return None
    received = ordered[index]
    assert isinstance(received, Incident.Received)
    current = Classification(
        received.channel, received.category, received.priority, received.department,
        CUSTOMER_SERVICE,
    )  # fmt: skip
    since, values = [at[index]], [current]
    for event, instant in zip(ordered, at):
        if isinstance(event, Incident.Reclassified):
            current = replace(
                current,
                channel=event.channel or current.channel,
                category=event.category or current.category,
                priority=event.priority or current.priority,
            )
        elif isinstance(event, Incident.Reassigned):
            current = replace(current, holder=event.department)
        else:
            continue
        since.append(instant)
        values.append(current)
    return ClassificationHistory(tuple(since), tuple(values))
