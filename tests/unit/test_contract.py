"""The wire contract: decoding, canonical encoding, rejection reasons, routing and JSON Schema."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from contracts.codec import decode, encode, message_key, validate_object
from contracts.errors import ContractError
from contracts.events import IncidentReceived
from contracts.routing import TopicMap
from contracts.printable import described, escaped, schema_pattern
from contracts.schema import export_json_schemas
from tests.unit.strategies import (
    CUSTOMER_NAME,
    CUSTOMER_PHONE,
    EVENT_TYPES,
    MAX_MESSAGE_BYTES,
    PERSONAL_DATA,
    Event,
    events_with_personal_data,
    fields_of,
    invalid_messages,
    required_fields,
    to_json,
    valid_events,
)

DEFAULT_TOPICS = {
    "incident.received": "incidents.received",
    "incident.escalated": "incidents.escalated",
    "incident.resolved": "incidents.resolved",
    "incident.thanked": "incidents.thanked",
    "incident.reopened": "incidents.lifecycle",
    "incident.paused": "incidents.lifecycle",
    "incident.resumed": "incidents.lifecycle",
    "incident.rated": "incidents.lifecycle",
    "incident.reassigned": "incidents.lifecycle",
    "incident.reclassified": "incidents.lifecycle",
    "incident.closed": "incidents.lifecycle",
}
CONFIGURED = TopicMap(
    received="cs.in",
    escalated="cs.escalations",
    resolved="cs.done",
    thanked="cs.praise",
    lifecycle="cs.life",
    dlq="cs.dead",
)
CONFIGURED_TOPICS = {
    "incident.received": "cs.in",
    "incident.escalated": "cs.escalations",
    "incident.resolved": "cs.done",
    "incident.thanked": "cs.praise",
    "incident.reopened": "cs.life",
    "incident.paused": "cs.life",
    "incident.resumed": "cs.life",
    "incident.rated": "cs.life",
    "incident.reassigned": "cs.life",
    "incident.reclassified": "cs.life",
    "incident.closed": "cs.life",
}
A_THANKS: Event = {
    "event_id": "6f1c2a4e-8b0d-4c39-9a51-0d6c7f3e2b18",
    "type": "incident.thanked",
    "schema_version": 1,
    "incident_id": "INC-2024-000123",
    "occurred_at": "2024-08-14T10:15:00+03:00",
    "source": "callcentre",
    "channel": "phone",
    "praised": CUSTOMER_NAME,
}
A_RECEIPT: Event = {
    "event_id": "0b7e3d52-41a9-4f0c-8e6b-5c2d9a1f7e30",
    "type": "incident.received",
    "schema_version": 1,
    "incident_id": "INC-2024-000123",
    "occurred_at": "2024-08-14T09:40:00+03:00",
    "source": "store-014",
    "channel": "in_store",
    "department": "retail_store",
    "category": "product_quality",
    "customer": {"name": CUSTOMER_NAME, "phone": CUSTOMER_PHONE},
}


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


def _nulls_in(value: Any) -> bool:
    if isinstance(value, dict):
        return any(v is None or _nulls_in(v) for v in value.values())
    return False


def _assert_no_personal_data(error: ContractError) -> None:
    for secret in PERSONAL_DATA:
        assert secret not in str(error)
        assert secret not in error.detail
        assert secret not in repr(error)


# --- round trip and canonical encoding ------------------------------------------------------


@settings(max_examples=200)
@given(valid_events())
def test_a_valid_event_survives_encoding_and_decoding(obj: Event) -> None:
    event = validate_object(obj)

    decoded = decode(encode(event))

    assert decoded == event
    assert type(decoded) is type(event)


@settings(max_examples=200)
@given(valid_events())
def test_decoding_the_published_bytes_gives_the_validated_object(obj: Event) -> None:
    raw = to_json(obj)

    event = decode(raw)

    assert event == validate_object(obj)


@settings(max_examples=200)
@given(valid_events())
def test_encoding_is_a_fixed_point_of_decoding(obj: Event) -> None:
    once = encode(validate_object(obj))

    twice = encode(decode(once))

    assert twice == once


@settings(max_examples=150)
@given(valid_events(), st.randoms(use_true_random=False))
def test_key_order_and_null_optional_fields_do_not_change_the_encoding(
    obj: Event, rng: Any
) -> None:
    items = list(_without_nulls(obj).items())
    rng.shuffle(items)
    reshaped = dict(items)

    encoded = encode(validate_object(reshaped))

    assert encoded == encode(validate_object(obj))


@settings(max_examples=150)
@given(valid_events())
def test_the_encoding_omits_absent_optional_fields_instead_of_writing_null(obj: Event) -> None:
    event = validate_object(obj)

    written = json.loads(encode(event))

    assert not _nulls_in(written)
    assert written["type"] == obj["type"]
    assert written["schema_version"] == 1


@pytest.mark.parametrize(
    ("base", "field", "default"),
    [(A_RECEIPT, "priority", "normal"), (A_THANKS, "standalone", False)],
    ids=["priority", "standalone"],
)
@pytest.mark.parametrize("null", [False, True], ids=["absent", "null"])
def test_an_absent_or_null_defaulted_field_takes_its_default(
    base: Event, field: str, default: object, null: bool
) -> None:
    obj = {**base, field: None} if null else base

    event = decode(to_json(obj))

    assert getattr(event, field) == default


def test_the_message_key_is_the_incident_id_in_utf8() -> None:
    event = validate_object(A_THANKS)

    key = message_key(event)

    assert key == b"INC-2024-000123"
    assert decode(to_json(A_THANKS), key=key) == event


def test_a_message_whose_key_differs_from_its_incident_id_is_rejected() -> None:
    raw = to_json(A_THANKS)

    with pytest.raises(ContractError) as caught:
        decode(raw, key=b"INC-2024-000124")

    assert (caught.value.reason, caught.value.detail) == ("key_mismatch", "message key differs from incident_id")
    _assert_no_personal_data(caught.value)


@settings(max_examples=100)
@given(valid_events(), st.binary(max_size=70))
def test_any_key_but_the_incident_id_is_a_key_mismatch(obj: Event, key: bytes) -> None:
    assume(key != obj["incident_id"].encode())
    raw = to_json(obj)

    with pytest.raises(ContractError) as caught:
        decode(raw, key=key)

    assert caught.value.reason == "key_mismatch"


def test_a_message_of_exactly_the_size_limit_is_accepted() -> None:
    raw = to_json(A_THANKS)
    padded = raw + b" " * (MAX_MESSAGE_BYTES - len(raw))

    event = decode(padded)

    assert len(padded) == MAX_MESSAGE_BYTES
    assert event == validate_object(A_THANKS)


def test_a_message_one_byte_over_the_size_limit_is_oversized() -> None:
    raw = to_json(A_THANKS)
    padded = raw + b" " * (MAX_MESSAGE_BYTES + 1 - len(raw))

    with pytest.raises(ContractError) as caught:
        decode(padded)

    assert caught.value.reason == "oversized"


def test_the_size_limit_is_configurable() -> None:
    raw = to_json(A_THANKS)

    with pytest.raises(ContractError) as caught:
        decode(raw, max_bytes=len(raw) - 1)

    assert caught.value.reason == "oversized"
    assert decode(raw, max_bytes=len(raw)) == validate_object(A_THANKS)


# --- rejections -----------------------------------------------------------------------------


@settings(max_examples=300)
@given(invalid_messages())
def test_every_invalid_message_is_rejected_with_its_specific_reason(
    message: tuple[bytes, str],
) -> None:
    raw, reason = message

    with pytest.raises(ContractError) as caught:
        decode(raw)

    assert caught.value.reason == reason
    assert caught.value.detail


@settings(max_examples=300)
@given(invalid_messages())
def test_a_rejection_never_quotes_the_customers_personal_data(message: tuple[bytes, str]) -> None:
    raw, _ = message

    with pytest.raises(ContractError) as caught:
        decode(raw)

    _assert_no_personal_data(caught.value)


@settings(max_examples=200)
@given(invalid_messages().filter(lambda m: m[1] not in ("not_json", "oversized")))
@example((to_json({**A_THANKS, "standalone": "true"}), "schema_violation"))
@example((to_json({**A_THANKS, "occurred_at": 1723619700}), "schema_violation"))
def test_validating_a_parsed_object_rejects_what_decoding_rejects(
    message: tuple[bytes, str],
) -> None:
    raw, reason = message
    obj = json.loads(raw)

    with pytest.raises(ContractError) as caught:
        validate_object(obj)

    assert caught.value.reason == reason
    _assert_no_personal_data(caught.value)


def test_a_boolean_schema_version_is_not_version_one() -> None:
    raw = to_json({**A_THANKS, "schema_version": True})

    with pytest.raises(ContractError) as caught:
        decode(raw)

    assert caught.value.reason == "unsupported_schema_version"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("occurred_at", "2024-08-14T10:15:00"),
        ("occurred_at", "2024-08-14 10:15:00.123456"),
        ("reported_at", "2024-08-14T09:00:00"),
    ],
)
def test_a_naive_timestamp_is_a_schema_violation(field: str, value: str) -> None:
    obj = {**A_RECEIPT, field: value}

    with pytest.raises(ContractError) as caught:
        decode(to_json(obj))

    assert caught.value.reason == "schema_violation"
    assert field in caught.value.detail


@pytest.mark.parametrize(
    "incident_id",
    ["x" * 65, "", "INC 1", CUSTOMER_PHONE, "INC/1", "INC-1\n"],
    ids=["65 chars", "empty", "space", "phone", "slash", "trailing newline"],
)
def test_an_incident_id_outside_the_rules_is_a_schema_violation(incident_id: str) -> None:
    raw = to_json({**A_THANKS, "incident_id": incident_id})

    with pytest.raises(ContractError) as caught:
        decode(raw)

    assert caught.value.reason == "schema_violation"
    assert "incident_id" in caught.value.detail
    _assert_no_personal_data(caught.value)


def test_an_incident_id_of_64_allowed_characters_is_accepted() -> None:
    incident_id = ("AZaz09._:-" * 7)[:64]

    event = decode(to_json({**A_THANKS, "incident_id": incident_id}))

    assert event.incident_id == incident_id


@pytest.mark.parametrize(
    ("occurred_at", "accepted"),
    [
        ("1989-12-31T23:59:59+00:00", False), ("1990-01-01T00:00:00+00:00", True),
        ("2099-12-31T23:59:59+00:00", True), ("2100-01-01T00:00:00+00:00", False),
        ("1990-01-01T00:30:00+03:00", True),  # the wall-clock year counts, whatever the offset
        ("2099-12-31T23:30:00-05:00", True),
    ],
)
def test_event_times_are_accepted_from_1990_through_2099_exactly(occurred_at: str, accepted: bool) -> None:
    raw = to_json({**A_RECEIPT, "occurred_at": occurred_at, "reported_at": occurred_at})

    if accepted:
        assert decode(raw).occurred_at == datetime.fromisoformat(occurred_at)
        return
    with pytest.raises(ContractError) as caught:
        decode(raw)
    assert caught.value.reason == "schema_violation" and "1990..2099" in caught.value.detail


@pytest.mark.parametrize(
    ("field", "longest"),
    [("channel", 64), ("department", 64), ("category", 64), ("source", 64), ("summary", 2000)],
)
def test_each_bounded_field_takes_its_longest_value_and_not_one_character_more(field: str, longest: int) -> None:
    assert getattr(decode(to_json({**A_RECEIPT, field: "a" * longest})), field) == "a" * longest
    with pytest.raises(ContractError) as caught:
        decode(to_json({**A_RECEIPT, field: "a" * (longest + 1)}))
    assert caught.value.reason == "schema_violation" and field in caught.value.detail


# Every bounded text field of the contract, by where it sits in an event of its type, and its
# longest value (issue 14: a test at each bound).
BOUNDED = [
    (A_RECEIPT, ("incident_id",), 64, "A"), (A_RECEIPT, ("store",), 64, "a"),
    ({**A_THANKS, "type": "incident.escalated", "escalated_to": "x"}, ("escalated_to",), 64, "a"),
    ({**A_THANKS, "type": "incident.escalated", "escalated_to": "x"}, ("reason",), 2000, "é"),
    ({**A_THANKS, "type": "incident.resolved", "resolution": "x"}, ("resolution",), 64, "a"),
    ({**A_THANKS, "type": "incident.resolved", "resolution": "x"}, ("root_cause",), 64, "a"),
    ({**A_THANKS, "type": "incident.paused"}, ("reason",), 64, "a"),
    ({**A_THANKS, "type": "incident.reopened"}, ("reason",), 2000, "a"),
    ({**A_THANKS, "type": "incident.closed"}, ("reason",), 2000, "a"),
    ({**A_THANKS, "type": "incident.rated", "rating": "bad"}, ("comment",), 2000, "a"),
    ({**A_THANKS, "type": "incident.reassigned", "department": "x"}, ("assignee",), 200, "a"),
    ({**A_THANKS, "type": "incident.reassigned", "department": "x"}, ("reason",), 2000, "a"),
    ({**A_THANKS, "type": "incident.reclassified", "category": "x"}, ("category",), 64, "a"),
    (A_THANKS, ("praised",), 200, "a"),
    (A_RECEIPT, ("customer", "name"), 200, "a"), (A_RECEIPT, ("customer", "phone"), 40, "1"),
    (A_RECEIPT, ("customer", "email"), 254, "a"),
]  # fmt: skip


def _with(base: Event, path: tuple[str, ...], value: object) -> Event:
    event = {**_of_its_type(base)}
    if len(path) == 1:
        event[path[0]] = value
    else:
        event[path[0]] = {**event[path[0]], path[1]: value}
    return event


def _field_of(event: object, path: tuple[str, ...]) -> object:
    for name in path:
        event = getattr(event, name)
    return event


@pytest.mark.parametrize(
    ("base", "path", "longest", "letter"), BOUNDED,
    ids=[f"{b['type'].split('.')[1]}.{'.'.join(p)}" for b, p, _, _ in BOUNDED],
)  # fmt: skip
def test_every_bounded_field_takes_its_longest_value_and_refuses_one_character_more(
    base: Event, path: tuple[str, ...], longest: int, letter: str
) -> None:
    assert _field_of(decode(to_json(_with(base, path, letter * longest))), path) == letter * longest
    with pytest.raises(ContractError) as caught:
        decode(to_json(_with(base, path, letter * (longest + 1))))
    assert caught.value.reason == "schema_violation" and path[-1] in caught.value.detail
    assert letter * (longest + 1) not in caught.value.detail


@pytest.mark.parametrize(
    ("character", "said"),
    [
        ("\x1b", "U+001B (a control character)"), ("\u202e", "U+202E (an invisible or bidi format character)"),
        ("\ue000", "U+E000 (a private-use character)"), ("\u2028", "U+2028 (a line separator)"),
        ("\u2029", "U+2029 (a paragraph separator)"), ("\U000e0041", "U+E0041 (an invisible or bidi format character)"),
        ("\U0010fffe", "U+10FFFE (an unassigned code point)"), ("a", "U+0061 (a printable character)"),
    ],
)  # fmt: skip
def test_an_unprintable_character_is_named_by_its_code_point_and_kind(character: str, said: str) -> None:
    assert described(character) == said


def test_an_identifier_with_an_escape_character_is_refused_naming_the_character_not_showing_it() -> None:
    with pytest.raises(ContractError) as caught:
        decode(to_json({**A_RECEIPT, "channel": "in\x1b[2Jstore"}))

    assert caught.value.detail == (
        "channel: Value error, holds U+001B (a control character); identifiers take printable characters only"
    )


def test_unprintable_characters_are_written_as_their_python_escapes() -> None:
    assert escaped("a\x1bb\nc\u202ed\U000e0041é") == "a\\x1bb\\nc\\u202ed\\U000e0041é"
    assert escaped("plain é") == "plain é"


def test_an_invented_field_is_named_with_its_unprintable_characters_escaped() -> None:
    with pytest.raises(ContractError) as caught:
        decode(to_json({**A_THANKS, "bad\x1bname": 1}))

    assert caught.value.detail.startswith("bad\\x1bname: ")


def test_an_object_over_the_message_limit_is_validated_for_what_it_says_not_refused_for_its_size() -> None:
    obj = {**A_RECEIPT, "summary": "x" * 70_000}  # a JSONL line has no message size limit

    with pytest.raises(ContractError) as caught:
        validate_object(obj)

    assert caught.value.reason == "schema_violation" and "summary" in caught.value.detail


@pytest.mark.parametrize(
    ("raw", "reason", "detail"),
    [
        (b"[]", "not_an_object", "the message must be one JSON object"),
        (b"17", "not_an_object", "the message must be one JSON object"),
        (b"{}", "missing_type", "the field 'type' is missing"),
        (b'{"type": "incident.praised"}', "unknown_type",
         "'type' must be one of incident.received, incident.escalated, incident.resolved,"
         " incident.thanked, incident.reopened, incident.paused, incident.resumed, incident.rated,"
         " incident.reassigned, incident.reclassified, incident.closed"),
        (b'{"type": "incident.thanked"}', "schema_violation",
         "event_id: Field required; schema_version: Field required; incident_id: Field required;"
         " occurred_at: Field required; source: Field required (+1 more)"),
        (b'{"type": "incident.thanked", "channel": "phone"}', "schema_violation",  # five: all said
         "event_id: Field required; schema_version: Field required; incident_id: Field required;"
         " occurred_at: Field required; source: Field required"),
        (to_json({**A_RECEIPT, "customer": {"phone": "1" * 41}}), "schema_violation",
         "customer.phone: String should have at most 40 characters"),
        (to_json({k: v for k, v in A_THANKS.items() if k not in ("praised", "channel")}
                 | {"type": "incident.reclassified"}), "schema_violation",
         "(message): Value error, a reclassification names a priority, a category or a channel"),
    ],
)  # fmt: skip
def test_each_rejection_says_exactly_what_is_wrong(raw: bytes, reason: str, detail: str) -> None:
    with pytest.raises(ContractError) as caught:
        decode(raw)

    assert (caught.value.reason, caught.value.detail) == (reason, detail)
    assert str(caught.value) == f"{reason}: {detail}"


@pytest.mark.parametrize(("sequence", "accepted"), [(-1, False), (0, True), (2**63 - 1, True), (2**63, False)])
def test_a_sequence_lies_in_0_through_the_largest_signed_64_bit_integer(sequence: int, accepted: bool) -> None:
    raw = to_json({**A_THANKS, "sequence": sequence})

    if accepted:
        assert decode(raw).sequence == sequence
        return
    with pytest.raises(ContractError) as caught:
        decode(raw)
    assert caught.value.reason == "schema_violation" and "sequence" in caught.value.detail


@pytest.mark.parametrize("field", ["reported_at", "completed_at"])
@pytest.mark.parametrize(
    ("instant", "accepted"),
    [("1989-12-31T23:59:59+00:00", False), ("1990-01-01T00:00:00+00:00", True),
     ("2099-12-31T23:59:59+00:00", True), ("2100-01-01T00:00:00+00:00", False)],
)  # fmt: skip
def test_every_instant_of_the_contract_lies_in_1990_through_2099(field: str, instant: str, accepted: bool) -> None:
    base = A_RECEIPT if field == "reported_at" else {**A_THANKS, "type": "incident.resolved", "resolution": "x"}
    raw = to_json({**_of_its_type(base), "occurred_at": "2024-08-14T09:40:00+03:00", field: instant})

    if accepted:
        assert getattr(decode(raw), field) == datetime.fromisoformat(instant)
        return
    with pytest.raises(ContractError) as caught:
        decode(raw)
    assert caught.value.reason == "schema_violation" and field in caught.value.detail
    assert "1990..2099" in caught.value.detail


@pytest.mark.parametrize("field", ["channel", "department", "category", "source"])
def test_an_empty_identifier_is_a_schema_violation(field: str) -> None:
    with pytest.raises(ContractError) as caught:
        decode(to_json({**A_RECEIPT, field: ""}))
    assert caught.value.reason == "schema_violation" and field in caught.value.detail


def test_a_summary_over_2000_characters_is_rejected_without_quoting_it() -> None:
    summary = (f"{CUSTOMER_NAME} called from {CUSTOMER_PHONE}. " * 60)[:2001]
    obj = {**A_RECEIPT, "summary": summary}

    with pytest.raises(ContractError) as caught:
        decode(to_json(obj))

    assert caught.value.reason == "schema_violation"
    assert "summary" in caught.value.detail
    _assert_no_personal_data(caught.value)


def test_a_summary_of_exactly_2000_characters_is_accepted() -> None:
    obj = {**A_RECEIPT, "summary": "é" * 2000}

    event = decode(to_json(obj))

    assert isinstance(event, IncidentReceived)
    assert event.summary is not None
    assert len(event.summary) == 2000


def test_the_detail_of_a_violation_names_the_offending_field() -> None:
    raw = to_json({**A_THANKS, "channel": 7})

    with pytest.raises(ContractError) as caught:
        decode(raw)

    assert caught.value.reason == "schema_violation"
    assert "channel" in caught.value.detail


# --- identifiers are printable, free text is not touched ----------------------------------

# Each identifier-like field (issue 13) with an event that carries it; priority and rating
# are closed sets and incident_id has its own alphabet.
IDENTIFIERS = [
    (A_RECEIPT, "source"), (A_RECEIPT, "channel"), (A_RECEIPT, "department"),
    (A_RECEIPT, "category"), (A_RECEIPT, "store"),
    ({**A_THANKS, "type": "incident.escalated", "escalated_to": "x"}, "escalated_to"),
    ({**A_THANKS, "type": "incident.resolved", "resolution": "x"}, "resolution"),
    ({**A_THANKS, "type": "incident.resolved", "resolution": "x"}, "root_cause"),
    (A_THANKS, "channel"), (A_THANKS, "department"),
    ({**A_THANKS, "type": "incident.paused"}, "reason"),
    ({**A_THANKS, "type": "incident.reassigned", "department": "x"}, "department"),
    ({**A_THANKS, "type": "incident.reassigned", "department": "x"}, "assignee"),
    ({**A_THANKS, "type": "incident.reclassified"}, "category"),
    ({**A_THANKS, "type": "incident.reclassified"}, "channel"),
]  # fmt: skip
FREE_TEXT = [
    (A_RECEIPT, "summary"), (A_THANKS, "praised"),
    ({**A_THANKS, "type": "incident.escalated", "escalated_to": "x"}, "reason"),
    ({**A_THANKS, "type": "incident.reopened"}, "reason"),
    ({**A_THANKS, "type": "incident.rated", "rating": "bad"}, "comment"),
    ({**A_THANKS, "type": "incident.reassigned", "department": "x"}, "reason"),
    ({**A_THANKS, "type": "incident.closed"}, "reason"),
]  # fmt: skip
HOSTILE_TO_TERMINALS = {
    "OSC 0 title, clear screen, red": "\x1b]0;PWNED\x07\x1b[2J\x1b[31m",
    "OSC 8 hyperlink": "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "C1 CSI": "\x9b31mred",
    "bell": "ding\x07",
    "carriage return": "ok\rFORGED",
    "newline": "two\nlines",
    "tab": "a\tb",
    "DEL": "x\x7f",
    "right-to-left override": "tech\u202etroppus",
    "first-strong isolate": "\u2068refund\u2069",
    "zero-width space": "sup\u200bplier",
    "byte order mark": "\ufeffemail",
    "line separator": "chat\u2028phone",
    "tag characters": "ok\U000e0041\U000e0042",
    "private use": "logo\ue000",
}


def _of_its_type(base: Event) -> Event:
    """``base`` without the fields its type does not have."""
    return {k: v for k, v in base.items() if k in fields_of(base["type"])}


@pytest.mark.parametrize(("base", "field"), IDENTIFIERS, ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.parametrize("value", HOSTILE_TO_TERMINALS.values(), ids=HOSTILE_TO_TERMINALS)
def test_an_identifier_holding_a_control_or_invisible_character_is_a_schema_violation_naming_it(
    base: Event, field: str, value: str
) -> None:
    raw = to_json({**_of_its_type(base), field: value})

    with pytest.raises(ContractError) as caught:
        decode(raw)

    assert caught.value.reason == "schema_violation"
    assert caught.value.detail.startswith(f"{field}: ")
    assert "printable" in caught.value.detail
    assert value not in caught.value.detail


@pytest.mark.parametrize(("base", "field"), FREE_TEXT, ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.parametrize("value", HOSTILE_TO_TERMINALS.values(), ids=HOSTILE_TO_TERMINALS)
def test_free_text_keeps_every_character_people_and_systems_write(
    base: Event, field: str, value: str
) -> None:
    raw = to_json({**_of_its_type(base), field: value})

    event = decode(raw)

    assert getattr(event, field) == value


def test_the_customers_own_fields_are_free_text() -> None:
    customer = {"name": "Zinaida\nProkhorova\t", "phone": "+7\u202e912", "email": "z\x1b@x"}

    event = decode(to_json({**A_RECEIPT, "customer": customer}))

    assert isinstance(event, IncidentReceived)
    assert event.customer is not None
    assert event.customer.model_dump() == customer


@pytest.mark.parametrize(
    "value",
    ["Отдел продаж", "営業部\u3000東京", "no\u00a0break", "[bold red]ALERT[/bold red]",
     "[link=http://evil.example]x[/link]", '=HYPERLINK("http://evil.example","x")', "+1", "-1",
     "@SUM(A1)", "<script>alert(1)</script>", "café\u0301", "🛒 store"],
)  # fmt: skip
def test_an_identifier_of_printable_characters_is_kept_verbatim_however_it_looks(value: str) -> None:
    event = decode(to_json({**A_RECEIPT, "category": value}))

    assert isinstance(event, IncidentReceived)
    assert event.category == value


def test_a_field_the_sender_invented_is_named_with_its_control_characters_escaped() -> None:
    raw = to_json({**A_THANKS, "\x1b]0;PWNED\x07": 1})

    with pytest.raises(ContractError) as caught:
        decode(raw)

    assert caught.value.reason == "schema_violation"
    assert caught.value.detail.startswith("\\x1b]0;PWNED\\x07: ")
    assert caught.value.detail.isprintable()


def test_a_nul_is_refused_in_free_text_as_before() -> None:
    with pytest.raises(ContractError) as caught:
        decode(to_json({**A_RECEIPT, "summary": "a\x00b"}))

    assert caught.value.reason == "schema_violation"
    assert "summary" in caught.value.detail


# --- routing --------------------------------------------------------------------------------


@pytest.mark.parametrize(("event_type", "topic"), DEFAULT_TOPICS.items())
def test_each_type_goes_to_its_default_topic(event_type: str, topic: str) -> None:
    topics = TopicMap()

    routed = topics.topic_for(event_type)

    assert routed == topic


@pytest.mark.parametrize(("event_type", "topic"), CONFIGURED_TOPICS.items())
def test_each_type_goes_to_its_configured_topic(event_type: str, topic: str) -> None:
    routed = CONFIGURED.topic_for(event_type)

    assert routed == topic


def test_the_consumer_subscribes_to_every_incident_topic_but_not_the_dead_letters() -> None:
    topics = CONFIGURED.incident_topics

    assert set(topics) == set(CONFIGURED_TOPICS.values())
    assert "cs.dead" not in topics
    assert TopicMap().dlq == "incidents.dlq"


def test_a_type_outside_the_contract_has_no_topic() -> None:
    topics = TopicMap()

    with pytest.raises(KeyError):
        topics.topic_for("incident.archived")


@settings(max_examples=50)
@given(valid_events())
def test_every_valid_event_is_routed_to_a_subscribed_topic(obj: Event) -> None:
    event_type = validate_object(obj).model_dump()["type"]

    topic = CONFIGURED.topic_for(event_type)

    assert topic in CONFIGURED.incident_topics
    assert TopicMap().topic_for(event_type) == DEFAULT_TOPICS[obj["type"]]


# --- JSON Schema export ---------------------------------------------------------------------

_SCHEMA_KEYWORDS = {
    "$defs", "$id", "$ref", "additionalProperties", "anyOf", "const", "default", "description",
    "enum", "format", "maxLength", "maximum", "minLength", "minimum", "pattern", "properties",
    "required", "title", "type",
}  # fmt: skip
_JSON_TYPES = {"object", "array", "string", "integer", "number", "boolean", "null"}


class _Schemas(dict[str, dict[str, Any]]):
    """The exported schemas by event type (short repr: hypothesis prints its arguments)."""

    def __repr__(self) -> str:
        return f"<{len(self)} exported schemas>"


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The exported schemas, by event type."""
    paths = export_json_schemas(tmp_path_factory.mktemp("schemas"))
    return _Schemas((p.name.removesuffix(".schema.json"), json.loads(p.read_text())) for p in paths)


def _is_type(value: Any, name: str) -> bool:
    return {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "null": value is None,
    }[name]


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _has_format(value: str, name: str) -> bool:
    try:
        if name == "uuid":
            UUID(value)
        elif name == "date-time":
            return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False
    return True


def _conforms(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    """A minimal JSON Schema check of the keywords the export uses (jsonschema is not installed)."""
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return _conforms(value, target, root)
    if "anyOf" in schema and not any(_conforms(value, s, root) for s in schema["anyOf"]):
        return False
    if "type" in schema and not _is_type(value, schema["type"]):
        return False
    if "const" in schema and not _same(value, schema["const"]):
        return False
    if "enum" in schema and not any(_same(value, e) for e in schema["enum"]):
        return False
    if isinstance(value, str):
        if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", math.inf):
            return False
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return False
        if "format" in schema and not _has_format(value, schema["format"]):
            return False
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        if any(name not in value for name in schema.get("required", [])):
            return False
        if schema.get("additionalProperties") is False and any(n not in properties for n in value):
            return False
        return all(_conforms(v, properties[n], root) for n, v in value.items() if n in properties)
    return True


def _keywords(schema: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(schema, dict):
        for name, sub in schema.items():
            found.add(name)
            if name in ("properties", "$defs"):
                for nested in sub.values():
                    found |= _keywords(nested)
            elif name == "anyOf":
                for nested in sub:
                    found |= _keywords(nested)
    return found


def test_the_export_writes_one_schema_file_per_event_type(tmp_path: Path) -> None:
    directory = tmp_path / "out"

    paths = export_json_schemas(directory)

    assert sorted(p.name for p in paths) == sorted(f"{t}.schema.json" for t in EVENT_TYPES)
    assert sorted(directory.iterdir()) == sorted(paths)


def test_the_export_writes_into_a_directory_it_creates_sorted_and_indented_with_an_id(tmp_path: Path) -> None:
    directory = tmp_path / "not" / "there"

    paths = export_json_schemas(directory)

    for path in paths:
        text = path.read_text()
        schema = json.loads(text)
        event_type = path.name.removesuffix(".schema.json")
        assert text == json.dumps(schema, indent=2, sort_keys=True) + "\n"  # stable diffs upstream
        assert schema["$id"] == f"https://ticketstream.invalid/schemas/{event_type}.v1.json"


def test_the_exported_identifiers_refuse_the_unprintable_characters(
    schemas: dict[str, dict[str, Any]],
) -> None:
    received = schemas["incident.received"]["properties"]

    assert received["channel"]["pattern"] == schema_pattern()
    assert re.search(schema_pattern(), "in_store") and not re.search(schema_pattern(), "in\x1bstore")


def test_the_export_can_be_run_again_over_its_own_output(tmp_path: Path) -> None:
    first = {p.name: p.read_text() for p in export_json_schemas(tmp_path)}

    second = {p.name: p.read_text() for p in export_json_schemas(tmp_path)}

    assert second == first


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_each_exported_schema_is_a_closed_object_schema(
    schemas: dict[str, dict[str, Any]], event_type: str
) -> None:
    schema = schemas[event_type]

    keywords = _keywords(schema)

    assert keywords <= _SCHEMA_KEYWORDS
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["$id"].endswith(f"{event_type}.v1.json")
    assert schema["properties"]["type"]["const"] == event_type
    assert schema["properties"]["schema_version"]["const"] == 1
    assert set(schema["required"]) <= set(schema["properties"])


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_each_exported_schema_lists_exactly_the_contracts_fields(
    schemas: dict[str, dict[str, Any]], event_type: str
) -> None:
    schema = schemas[event_type]

    properties, required = set(schema["properties"]), set(schema["required"])

    assert properties == set(fields_of(event_type))
    assert required == required_fields(event_type)


def test_every_exported_schema_has_its_own_id(schemas: dict[str, dict[str, Any]]) -> None:
    ids = [schema["$id"] for schema in schemas.values()]

    assert len(set(ids)) == len(EVENT_TYPES)


@settings(max_examples=200)
@given(valid_events())
def test_the_exported_schema_accepts_every_valid_event(
    schemas: dict[str, dict[str, Any]], obj: Event
) -> None:
    schema = schemas[obj["type"]]

    accepted = _conforms(obj, schema, schema)

    assert accepted


@settings(max_examples=50)
@given(
    events_with_personal_data("incident.received"),
    st.sampled_from(["missing", "extra", "long", "control", "bidi"]),
)
def test_the_exported_schema_rejects_what_the_contract_rejects(
    schemas: dict[str, dict[str, Any]], obj: Event, defect: str
) -> None:
    if defect == "missing":
        del obj["category"]
    elif defect == "extra":
        obj["customer"]["passport"] = "4509 123456"
    elif defect == "long":
        obj["incident_id"] = "x" * 65
    elif defect == "control":
        obj["category"] = "\x1b]0;PWNED\x07"
    else:
        obj["department"] = "retail\u202estore"
    schema = schemas["incident.received"]

    accepted = _conforms(obj, schema, schema)

    assert not accepted
    with pytest.raises(ContractError):
        decode(to_json(obj))
