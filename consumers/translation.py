"""The anti-corruption layer: a wire-contract event becomes a domain Fact."""

from __future__ import annotations

from typing import Any

from contracts.events import EventBase, IncidentReceived
from domain.fact import Arrival, Fact, Primitive

_COMMON = {
    "event_id", "type", "schema_version", "incident_id", "occurred_at", "source", "sequence",
}


def to_fact(event: EventBase, arrival: Arrival | None = None) -> Fact:
    """Translate a validated wire event, read at ``arrival``, into the fact the domain records."""
    details: dict[str, Primitive] = {
        name: value for name, value in _fields(event).items() if name not in _COMMON
    }
    if isinstance(event, IncidentReceived):
        customer = details.pop("customer", None)
        for part in ("name", "phone", "email"):
            details[f"customer_{part}"] = getattr(event.customer, part) if customer else None
    kind = str(getattr(event, "type")).removeprefix("incident.")
    return Fact(
        kind=kind,
        incident_id=event.incident_id,
        event_id=str(event.event_id),
        occurred_at=event.occurred_at,
        source=event.source,
        details=details,
        sequence=event.sequence,
        arrival=arrival,
    )


def _fields(event: EventBase) -> dict[str, Any]:
    # Shallow: nested models (customer) stay objects, datetimes stay datetimes.
    return event.__dict__
