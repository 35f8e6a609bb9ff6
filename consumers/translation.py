"""The anti-corruption layer: a wire-contract event becomes a domain Fact."""

from __future__ import annotations

from contracts.events import EVENT_MODELS, EventBase, IncidentReceived
from domain.fact import Arrival, Fact, Primitive

_COMMON = {
    "event_id", "type", "schema_version", "incident_id", "occurred_at", "source", "sequence",
}
_CUSTOMER = ("name", "phone", "email")


def _shape(model: type[EventBase]) -> tuple[str, tuple[str, ...]]:
    """A model's kind of fact and its detail fields, in the model's order."""
    wire_type = next(t for t, m in EVENT_MODELS.items() if m is model)
    return wire_type.removeprefix("incident."), tuple(name for name in model.model_fields if name not in _COMMON)


# Per model: the kind of fact and the names of its details (computed once, not per event).
_SHAPES = {model: _shape(model) for model in EVENT_MODELS.values()}


def to_fact(event: EventBase, arrival: Arrival | None = None) -> Fact:
    """Translate a validated wire event, read at ``arrival``, into the fact the domain records."""
    kind, names = _SHAPES[type(event)]
    fields = event.__dict__  # shallow: nested models (customer) stay objects
    details: dict[str, Primitive] = {name: fields[name] for name in names}
    if type(event) is IncidentReceived:
        customer = details.pop("customer", None)
        for part in _CUSTOMER:
            details[f"customer_{part}"] = getattr(customer, part) if customer else None
        details["customer_key"] = None  # derived at ingest (consumers.personal_data)
    return Fact(
        kind, event.incident_id, str(event.event_id), event.occurred_at, event.source, details,
        event.sequence, arrival,
    )  # fmt: skip
