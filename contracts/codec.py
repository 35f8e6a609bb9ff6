"""Bytes ⇄ event model: strict decoding with specific rejection reasons, canonical encoding."""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import TypeAdapter, ValidationError

from contracts.errors import ContractError
from contracts.events import EVENT_TYPES, EventBase, IncidentEvent
from contracts.printable import escaped

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024

_ADAPTER: TypeAdapter[Any] = TypeAdapter(IncidentEvent)
# The adapter's core validator, called directly: the adapter's own validate_json only
# forwards its default options to it (hot path: once per message).
_VALIDATE_JSON = _ADAPTER.validator.validate_json


def decode(
    raw: bytes,
    *,
    key: bytes | None = None,
    max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> EventBase:
    """Decode one Kafka message value into its event model.

    Raises:
        ContractError: with a specific reason when the message breaks the contract.
    """
    if len(raw) > max_bytes:
        raise ContractError("oversized", f"message of {len(raw)} bytes exceeds {max_bytes}")
    try:
        event: EventBase = _VALIDATE_JSON(raw)
    except ValidationError as err:
        raise _contract_error(err) from None
    if key is not None and key != event.incident_id.encode():
        raise ContractError("key_mismatch", "message key differs from incident_id")
    return event


def validate_object(obj: object) -> EventBase:
    """Validate an already-parsed JSON object (e.g. one JSONL line) exactly as ``decode`` would.

    Raises:
        ContractError: with a specific reason when the object breaks the contract.
    """
    return decode(json.dumps(obj).encode(), max_bytes=sys.maxsize)


def encode(event: EventBase) -> bytes:
    """Canonical JSON bytes of an event (absent optional fields are omitted)."""
    return event.model_dump_json(exclude_none=True).encode()


def message_key(event: EventBase) -> bytes:
    """The Kafka key: the incident id, so one incident's events stay ordered per topic."""
    return event.incident_id.encode()


def _contract_error(err: ValidationError) -> ContractError:
    errors = err.errors(include_input=False, include_url=False)
    first = errors[0]
    kind = first["type"]
    if kind == "json_invalid":
        return ContractError("not_json", f"invalid JSON: {first['msg']}")
    if kind in ("dict_type", "model_attributes_type", "model_type") and not first["loc"]:
        return ContractError("not_an_object", "the message must be one JSON object")
    if kind == "union_tag_not_found":
        return ContractError("missing_type", "the field 'type' is missing")
    if kind == "union_tag_invalid":
        allowed = ", ".join(EVENT_TYPES)
        return ContractError("unknown_type", f"'type' must be one of {allowed}")
    fields = "; ".join(f"{_field(e['loc'])}: {e['msg']}" for e in errors[:5])
    if any(_field(e["loc"]) == "schema_version" and e["type"] != "missing" for e in errors):
        return ContractError("unsupported_schema_version", fields)
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return ContractError("schema_violation", fields + more)


def _field(loc: tuple[int | str, ...]) -> str:
    # The first element of a discriminated union's location is the tag; drop it. A location
    # may name a field the sender invented: its unprintable characters are written escaped.
    parts = [escaped(str(p)) for p in loc]
    if parts and parts[0] in EVENT_TYPES:
        parts = parts[1:]
    return ".".join(parts) or "(message)"
