"""Hypothesis strategies for the wire contract of DESIGN §2: valid events and invalid messages."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

Event = dict[str, Any]
InvalidMessage = tuple[bytes, str]

MAX_MESSAGE_BYTES = 64 * 1024

# Recognizable personal data: no error detail may ever quote it.
CUSTOMER_NAME = "Zinaida Prokhorova-Uvarova"
CUSTOMER_PHONE = "+7 912 345-67-89"
CUSTOMER_EMAIL = "zinaida.prokhorova@example.org"
PERSONAL_DATA = (CUSTOMER_NAME, CUSTOMER_PHONE, CUSTOMER_EMAIL)

EVENT_TYPES = (
    "incident.received",
    "incident.escalated",
    "incident.resolved",
    "incident.thanked",
    "incident.reopened",
    "incident.paused",
    "incident.resumed",
    "incident.rated",
    "incident.reassigned",
    "incident.reclassified",
    "incident.closed",
)

# The contract of DESIGN §2, written out independently of the models: field -> (kind, required).
COMMON_FIELDS: dict[str, tuple[str, bool]] = {
    "event_id": ("uuid", True),
    "type": ("type", True),
    "schema_version": ("schema_version", True),
    "incident_id": ("incident_id", True),
    "occurred_at": ("timestamp", True),
    "source": ("label", True),
    "sequence": ("sequence", False),
}
SPECIFIC_FIELDS: dict[str, dict[str, tuple[str, bool]]] = {
    "incident.received": {
        "channel": ("label", True),
        "department": ("label", True),
        "category": ("label", True),
        "reported_at": ("timestamp", False),
        "store": ("label", False),
        "priority": ("priority", False),
        "customer": ("customer", False),
        "summary": ("text", False),
    },
    "incident.escalated": {"escalated_to": ("label", True), "reason": ("text", False)},
    "incident.resolved": {
        "resolution": ("label", True),
        "root_cause": ("label", False),
        "completed_at": ("timestamp", False),
    },
    "incident.thanked": {
        "channel": ("label", True),
        "standalone": ("bool", False),
        "department": ("label", False),
        "praised": ("name", False),
    },
    "incident.reopened": {"reason": ("text", False)},
    "incident.paused": {"reason": ("label", False)},
    "incident.resumed": {},
    "incident.rated": {"rating": ("rating", True), "comment": ("text", False)},
    "incident.reassigned": {
        "department": ("label", True),
        "assignee": ("handle", False),
        "reason": ("text", False),
    },
    # At least one of the three (a reclassification that names nothing says nothing).
    "incident.reclassified": {
        "priority": ("priority", False),
        "category": ("label", False),
        "channel": ("label", False),
    },
    "incident.closed": {"reason": ("text", False)},
}
PRIORITIES = ("low", "normal", "high", "critical")
RATINGS = ("bad", "neutral", "good")
_INCIDENT_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"
# Identifiers (kinds "label" and "handle") take printable characters only; free text ("text",
# "name", the customer) takes every character but U+0000. Not printable: the Unicode
# categories of controls (C0, DEL, C1), format characters (bidi, zero-width, BOM, tags),
# private use, unassigned code points, line and paragraph separators, and surrogates (which
# cannot travel in JSON text at all). Spaces of every kind are printable.
NOT_PRINTABLE = ("Cc", "Cf", "Co", "Cn", "Zl", "Zp", "Cs")
# What a hostile upstream sends to a terminal: ESC/CSI, OSC 0 (window title) ended by BEL,
# OSC 8 (hyperlink), C1 CSI/OSC/ST, backspaces, CR, newline, tab, DEL, bidi overrides and
# isolates, zero-width characters, the BOM, the line separator, tag characters.
TERMINAL_SEQUENCES = (
    "\x1b[2J", "\x1b[31m", "\x1b]0;PWNED\x07", "\x1b]8;;http://evil.example/\x1b\\x\x1b]8;;\x1b\\",
    "\x9b31m", "\x9d0;PWNED\x9c", "\x07", "\x08\x08", "\r", "\n", "\t", "\x7f", "\x85", "\u202e",
    "\u202a", "\u2066", "\u2069", "\u200f", "\u200b", "\ufeff", "\u2028", "\U000e0041",
)  # fmt: skip
_VOCABULARY = (
    "phone", "email", "chat", "store-014", "callcentre", "edms", "tech_support",
    "supplier_delay", "incomplete_documents", "refund", "exchange", "awaiting_customer",
)  # fmt: skip


def fields_of(event_type: str) -> dict[str, tuple[str, bool]]:
    """Every field of ``event_type`` with its kind and whether it is required."""
    return {**COMMON_FIELDS, **SPECIFIC_FIELDS[event_type]}


def required_fields(event_type: str) -> set[str]:
    """The fields an event of ``event_type`` must carry."""
    return {name for name, (_, required) in fields_of(event_type).items() if required}


def to_json(obj: object) -> bytes:
    """The message bytes an upstream system would publish for ``obj``."""
    return json.dumps(obj).encode()


# --- valid values ---------------------------------------------------------------------------


def contract_text(min_size: int = 0, max_size: int | None = None) -> st.SearchStrategy[str]:
    """Any text the contract allows in a string field: every character but U+0000."""
    letters = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))
    return st.text(letters, min_size=min_size, max_size=max_size)


def printable_text(min_size: int = 0, max_size: int | None = None) -> st.SearchStrategy[str]:
    """Any text of printable characters (every category but ``NOT_PRINTABLE``)."""
    letters = st.characters(exclude_categories=NOT_PRINTABLE)
    return st.text(letters, min_size=min_size, max_size=max_size)


def free_texts(max_size: int) -> st.SearchStrategy[str]:
    """Free text as people (and hostile systems) write it: any character but U+0000, terminal
    sequences included."""
    pieces = st.sampled_from(TERMINAL_SEQUENCES) | contract_text(max_size=20)
    mixed = st.lists(pieces, max_size=8).map("".join).filter(lambda t: len(t) <= max_size)
    return contract_text(max_size=max_size) | mixed


def labels() -> st.SearchStrategy[str]:
    """Vocabulary values: known ones or any 1..64 printable characters (unknown values are kept)."""
    return st.sampled_from(_VOCABULARY) | printable_text(min_size=1, max_size=64)


@st.composite
def unprintable_identifiers(draw: st.DrawFn, max_size: int = 64) -> str:
    """Printable text around one terminal sequence or unprintable character, within
    ``max_size`` characters: what an identifier refuses."""
    json_safe = tuple(c for c in NOT_PRINTABLE if c != "Cs")
    bad = draw(st.sampled_from(TERMINAL_SEQUENCES) | st.characters(categories=json_safe))
    around = draw(printable_text(max_size=max_size - len(bad)))
    cut = draw(st.integers(0, len(around)))
    return around[:cut] + bad + around[cut:]


def incident_ids() -> st.SearchStrategy[str]:
    """1..64 characters of ``[A-Za-z0-9._:-]``."""
    return st.text(_INCIDENT_ID_ALPHABET, min_size=1, max_size=64)


@st.composite
def timestamps(draw: st.DrawFn, naive: bool = False) -> str:
    """RFC 3339 timestamps with an offset (``Z`` or ±hh:mm), or naive ones if asked."""
    moment = draw(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)))
    spec = draw(st.sampled_from(("seconds", "milliseconds", "microseconds")))
    if naive:
        return moment.isoformat(timespec=spec)
    minutes = draw(st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59))
    text = moment.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(timespec=spec)
    if minutes == 0 and draw(st.booleans()):
        text = text.removesuffix("+00:00") + "Z"
    return text


def customers() -> st.SearchStrategy[Event]:
    """The customer object: every part optional, absent or null."""
    return st.fixed_dictionaries(
        {},
        optional={
            "name": st.none() | st.just(CUSTOMER_NAME) | contract_text(max_size=200),
            "phone": st.none() | st.just(CUSTOMER_PHONE) | contract_text(max_size=40),
            "email": st.none() | st.just(CUSTOMER_EMAIL) | contract_text(max_size=254),
        },
    )


_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "uuid": st.uuids().map(str),
    "incident_id": incident_ids(),
    "timestamp": timestamps(),
    "label": labels(),
    "handle": printable_text(max_size=200),
    "text": free_texts(max_size=2000),
    "name": free_texts(max_size=200),
    "bool": st.booleans(),
    "priority": st.sampled_from(PRIORITIES),
    "rating": st.sampled_from(RATINGS),
    "customer": customers(),
    "sequence": st.integers(0, 2**63 - 1),
}


def valid_events(event_type: str | None = None) -> st.SearchStrategy[Event]:
    """JSON-ready events of ``event_type`` (any type if None) exactly as DESIGN §2 allows."""
    if event_type is None:
        return st.one_of([valid_events(t) for t in EVENT_TYPES])
    required: dict[str, st.SearchStrategy[Any]] = {
        "event_id": _VALUES["uuid"],
        "type": st.just(event_type),
        "schema_version": st.just(1),
        "incident_id": _VALUES["incident_id"],
        "occurred_at": _VALUES["timestamp"],
        "source": _VALUES["label"],
    }
    optional: dict[str, st.SearchStrategy[Any]] = {"sequence": st.none() | _VALUES["sequence"]}
    for name, (kind, is_required) in SPECIFIC_FIELDS[event_type].items():
        if is_required:
            required[name] = _VALUES[kind]
        else:
            optional[name] = st.none() | _VALUES[kind]
    events = st.fixed_dictionaries(required, optional=optional)
    if event_type == "incident.reclassified":
        return _naming_one_at_least(events, SPECIFIC_FIELDS[event_type])
    return events


@st.composite
def _naming_one_at_least(
    draw: st.DrawFn, events: st.SearchStrategy[Event], fields: dict[str, tuple[str, bool]]
) -> Event:
    event = draw(events)
    name = draw(st.sampled_from(sorted(fields)))
    event[name] = draw(_VALUES[fields[name][0]])
    return event


@st.composite
def events_with_personal_data(draw: st.DrawFn, event_type: str | None = None) -> Event:
    """A valid event carrying the recognizable customer's data wherever the type has room."""
    event_type = event_type or draw(st.sampled_from(EVENT_TYPES))
    event = draw(valid_events(event_type))
    mention = f"{CUSTOMER_NAME}, {CUSTOMER_PHONE}"
    room = {
        "incident.received": "summary",
        "incident.escalated": "reason",
        "incident.resolved": "root_cause",
        "incident.thanked": "praised",
        "incident.reopened": "reason",
        "incident.paused": "reason",
        "incident.rated": "comment",
        "incident.reassigned": "reason",
        "incident.closed": "reason",
    }
    if event_type == "incident.received":
        event["customer"] = dict(zip(("name", "phone", "email"), PERSONAL_DATA))
    if event_type in room:
        event[room[event_type]] = mention
    return event


# --- invalid messages -----------------------------------------------------------------------

_JSON_STARTS = set(b'{["-0123456789tfnNI \t\r\n"')
_BAD_UTF8 = (
    b"\xff", b"\x80", b"\xc3\x28", b"\xc0\xaf", b"\xe2\x82",
    b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80",
)  # fmt: skip


@st.composite
def _not_json(draw: st.DrawFn) -> InvalidMessage:
    shape = draw(st.sampled_from(("random", "truncated", "bad_utf8", "empty")))
    if shape == "random":
        first = draw(st.integers(0, 255).filter(lambda b: b not in _JSON_STARTS))
        return bytes([first]) + draw(st.binary(max_size=200)), "not_json"
    if shape == "empty":
        return draw(st.sampled_from((b"", b" ", b"\n\t "))), "not_json"
    raw = to_json(draw(events_with_personal_data()))
    if shape == "truncated":
        return raw[: draw(st.integers(1, len(raw) - 1))], "not_json"
    # Invalid UTF-8 inside a string value: stray bytes, a cut sequence, an encoded surrogate.
    junk = draw(st.sampled_from(_BAD_UTF8))
    return raw.replace(b'"type": "', b'"type": "' + junk, 1), "not_json"


def _json_values(objects: bool) -> st.SearchStrategy[Any]:
    scalars = (
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
        | st.sampled_from(PERSONAL_DATA) | st.text(max_size=20)
    )  # fmt: skip
    nested = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=10,
    )
    return nested if objects else scalars | st.lists(nested, max_size=4)


@st.composite
def _not_an_object(draw: st.DrawFn) -> InvalidMessage:
    events = st.lists(events_with_personal_data(), min_size=1, max_size=2)
    value = draw(_json_values(objects=False) | events)
    return to_json(value), "not_an_object"


@st.composite
def _missing_type(draw: st.DrawFn) -> InvalidMessage:
    event = draw(events_with_personal_data())
    del event["type"]
    return to_json(event), "missing_type"


@st.composite
def _unknown_type(draw: st.DrawFn) -> InvalidMessage:
    event = draw(events_with_personal_data())
    event["type"] = draw(
        st.sampled_from(
            ("incident.archived", "Incident.Received", "received", "incident.received.v1", "")
        )
        | st.just(CUSTOMER_NAME)
        | st.text(max_size=30).filter(lambda t: t not in EVENT_TYPES)
        | st.integers()
        | st.lists(st.sampled_from(EVENT_TYPES), max_size=2)
    )
    return to_json(event), "unknown_type"


@st.composite
def _unsupported_schema_version(draw: st.DrawFn) -> InvalidMessage:
    event = draw(events_with_personal_data())
    event["schema_version"] = draw(
        st.integers().filter(lambda v: v != 1)
        | st.sampled_from(("1", "v1", "1.0", 1.5, None, [1], {"major": 1}, CUSTOMER_NAME))
    )
    return to_json(event), "unsupported_schema_version"


def _wrong_values(kind: str) -> st.SearchStrategy[Any]:
    """JSON values of the wrong type (or outside the allowed set) for a field of ``kind``."""
    pii = CUSTOMER_NAME
    anything = (
        st.integers() | st.floats(allow_nan=False, allow_infinity=False)
        | st.lists(st.just(CUSTOMER_NAME), min_size=1, max_size=2)
        | st.just({"name": CUSTOMER_NAME})
    )  # fmt: skip
    wrong: dict[str, st.SearchStrategy[Any]] = {
        "uuid": anything | st.booleans() | st.sampled_from(("not-a-uuid", CUSTOMER_PHONE, "")),
        "incident_id": anything | st.booleans(),
        "timestamp": anything
        | st.booleans()
        | st.sampled_from(("yesterday", "2024-13-01T10:00:00+03:00", CUSTOMER_NAME)),
        "label": anything | st.booleans(),
        "handle": anything | st.booleans(),
        "text": anything | st.booleans(),
        "name": anything | st.booleans(),
        "bool": anything | st.sampled_from(("true", "false", "yes", 0, 1, CUSTOMER_NAME)),
        "priority": anything | st.booleans() | st.sampled_from(("urgent", "NORMAL", "", pii)),
        "rating": anything | st.booleans() | st.sampled_from(("excellent", "Good", "", pii)),
        "customer": st.integers() | st.booleans() | st.sampled_from((pii, [CUSTOMER_PHONE])),
        "sequence": st.integers(max_value=-1) | st.integers(min_value=2**63)
        | st.booleans() | st.floats(allow_nan=False, allow_infinity=False)
        | st.sampled_from(("7", CUSTOMER_PHONE, [1])),
    }
    return wrong[kind]


def _too_long(kind: str) -> st.SearchStrategy[Any]:
    """Strings outside the length or character rules of a field of ``kind``, if it has any."""
    pad = f" {CUSTOMER_NAME} {CUSTOMER_PHONE} "
    return {
        "incident_id": st.text(_INCIDENT_ID_ALPHABET, min_size=65, max_size=100)
        | st.sampled_from(("", CUSTOMER_NAME, CUSTOMER_PHONE, "INC 1", "INC/1", "INC-№1")),
        "label": st.integers(65, 120).map(lambda n: (pad * 4)[:n]) | st.just(""),
        "text": st.integers(2001, 2100).map(lambda n: (pad * 60)[:n]),
        "name": st.integers(201, 260).map(lambda n: (pad * 8)[:n]),
        "handle": st.integers(201, 260).map(lambda n: (pad * 8)[:n]),
    }.get(kind, st.nothing())


@st.composite
def _schema_violation(draw: st.DrawFn) -> InvalidMessage:
    event_type = draw(st.sampled_from(EVENT_TYPES))
    event = draw(events_with_personal_data(event_type))
    fields = fields_of(event_type)
    settable = [n for n in fields if n not in ("type", "schema_version")]
    defects = ("missing", "null", "wrong_type", "naive", "extra", "too_long", "unprintable")
    defect = draw(st.sampled_from(defects))
    if defect == "missing":
        del event[draw(st.sampled_from(sorted(required_fields(event_type) - {"type"})))]
    elif defect == "null":
        nullable = required_fields(event_type) - {"type", "schema_version"}
        event[draw(st.sampled_from(sorted(nullable)))] = None
    elif defect == "wrong_type":
        name = draw(st.sampled_from(settable))
        event[name] = draw(_wrong_values(fields[name][0]))
    elif defect == "naive":
        stamps = [n for n in settable if fields[n][0] == "timestamp"]
        event[draw(st.sampled_from(stamps))] = draw(timestamps(naive=True))
    elif defect == "extra":
        known = set(fields) | {"customer"}
        name = draw(st.from_regex(r"[a-z_]{1,20}", fullmatch=True).filter(lambda n: n not in known))
        if event_type == "incident.received" and draw(st.booleans()):
            event["customer"][name] = CUSTOMER_PHONE
        else:
            event[name] = draw(st.sampled_from((CUSTOMER_NAME, CUSTOMER_PHONE, None, 1)))
    elif defect == "too_long":
        kinds = ("incident_id", "label", "handle", "text", "name")
        name = draw(st.sampled_from([n for n in settable if fields[n][0] in kinds]))
        event[name] = draw(_too_long(fields[name][0]))
    else:  # every type has an identifier: its source
        identifiers = [n for n in settable if fields[n][0] in ("label", "handle")]
        name = draw(st.sampled_from(identifiers))
        event[name] = draw(unprintable_identifiers(64 if fields[name][0] == "label" else 200))
    return to_json(event), "schema_violation"


@st.composite
def _oversized(draw: st.DrawFn) -> InvalidMessage:
    raw = to_json(draw(events_with_personal_data()))
    size = draw(st.integers(MAX_MESSAGE_BYTES + 1, MAX_MESSAGE_BYTES + 4096))
    filler = draw(st.sampled_from((b" ", b"\n", b"x")))
    return raw + filler * (size - len(raw)), "oversized"


def invalid_messages() -> st.SearchStrategy[InvalidMessage]:
    """(message bytes, expected reason) for every way a message can break the contract.

    Each message breaks exactly one rule; a key that differs from the incident id is a
    separate check (it needs the key too).
    """
    return st.one_of(
        _not_json(),
        _not_an_object(),
        _missing_type(),
        _unknown_type(),
        _unsupported_schema_version(),
        _schema_violation(),
        _oversized(),
    )
