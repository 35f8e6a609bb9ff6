"""What the store holds about one customer: find, open, export, erase; and the one rewrite
of stored events, sealing personal data stored before encryption existed."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from consumers.ingest_recorder import IngestTables
from consumers.personal_data import (
    ERASED,
    PERSONAL_FIELDS,
    check_secret,
    incident_key_id,
    message_key_index,
    new_data_key,
    open_payload,
    open_text,
    payload_key_id,
    seal_payload,
    seal_text,
    secret_fingerprint,
    token_key_id,
)
from domain.application import Incidents
from domain.customer_key import customer_key, normalised_email
from domain.incident import Incident
from ticketstream.errors import TicketstreamError

log = structlog.get_logger(__name__)

_BOOKKEEPING = {"originator_topic"}


def keys_of(
    app: Incidents, secret: bytes, phone: str | None, email: str | None, key: str | None,
    region: str | None = None,
) -> list[str]:  # fmt: skip
    """The data key ids of the customer named by a key, or by a phone and/or an e-mail: the
    phone's key, the e-mail's key, and the key of every incident whose sealed e-mail is this
    one (a customer who gave a phone too is keyed by the phone).

    Raises:
        TicketstreamError: when given a key with a phone or e-mail, or nothing usable.
    """
    if key is not None:
        if phone is not None or email is not None:
            raise TicketstreamError("name the customer by --key, or by --phone and/or --email")
        return [key]
    if phone is None and email is None:
        raise TicketstreamError("name the customer by --phone, --email or --key")
    check_secret(secret, _recorder(app).secret_rotations())
    found: list[str] = []
    if phone is not None:
        by_phone = customer_key(secret, phone, None, region)
        if by_phone is None:
            raise TicketstreamError("that phone has too few digits to name a customer")
        found.append(by_phone)
    if email is not None:
        address = normalised_email(email)
        if address is None:
            raise TicketstreamError("the e-mail is empty")
        found += [customer_key(secret, None, address) or ""]
    aliases = _recorder(app).customer_aliases(found)  # a rotated secret's index → the key
    found = [aliases.get(k, k) for k in found]
    if email is not None:
        found += _sealed_with_email(app, str(normalised_email(email)))
    return list(dict.fromkeys(found))


def _sealed_with_email(app: Incidents, address: str) -> list[str]:
    """The data key ids of stored receipts whose e-mail (opened) is ``address``."""
    sealed = [
        e for _, e in app.events_since(0)
        if isinstance(e, Incident.Received) and token_key_id(e.customer_email) is not None
    ]  # fmt: skip
    keys = _recorder(app).data_keys({str(token_key_id(e.customer_email)) for e in sealed})
    return [
        str(token_key_id(e.customer_email)) for e in sealed
        if normalised_email(open_text(e.customer_email, "customer_email", keys)) == address
    ]  # fmt: skip


def data_key_ids(event: Incident.Event) -> set[str]:
    """The data key ids a stored event's personal fields are sealed under."""
    ids = {token_key_id(getattr(event, name, None)) for name in PERSONAL_FIELDS}
    ids.discard(None)
    return ids  # type: ignore[return-value]


def opened_fields(event: Incident.Received, keys: dict[str, bytes]) -> dict[str, str | None]:
    """A receipt's personal fields as the customer gave them (or ``[erased]``)."""
    return {name: open_text(getattr(event, name), name, keys) for name in PERSONAL_FIELDS}


def opened(event: Incident.Event, keys: dict[str, bytes]) -> dict[str, Any]:
    """A stored event's attributes, its personal fields as the customer gave them (or
    ``[erased]``)."""
    state = {k: v for k, v in vars(event).items() if k not in _BOOKKEEPING}
    state["timestamp"] = event.timestamp.isoformat()
    for name in PERSONAL_FIELDS:
        if name in state:
            state[name] = open_text(state[name], name, keys)
    return state


def incidents_of(app: Incidents, keys: list[str], advance: Callable[[int], None] = lambda n: None) -> list[str]:
    """The incidents whose customer has one of these keys (data sealed under it, or keyed so)."""
    found: list[str] = []
    wanted = set(keys)
    for _, event in app.events_since(0):
        advance(1)
        if isinstance(event, Incident.Received) and (
            event.customer_key in wanted or wanted & data_key_ids(event)
        ):
            found.append(event.originator_id)
    return found


def export(app: Incidents, customer: list[str], output: Path, advance: Callable[[int], None] = lambda n: None) -> int:
    """Write what the store holds about the customer (a subject access request) as JSON;
    return how many incidents."""
    recorder = _recorder(app)
    incident_ids = incidents_of(app, customer, advance)
    keys = recorder.data_keys(customer)
    histories = app.histories(incident_ids)
    letters = [
        {"id": s.id, "reason": s.letter.reason, "recorded_at": s.recorded_at,
         "message": (open_payload(s.letter.stored_value, keys) or b"[erased]").decode(errors="replace")}
        for s in recorder.dead_letters(limit=10**9)
        if s.letter.stored_value is not None and payload_key_id(s.letter.stored_value) in customer
    ]  # fmt: skip
    document = {
        "customer_keys": customer,
        "data_keys_held": sorted(keys),
        "incidents": [
            {"incident_id": i, "events": [opened(e, keys) for e in histories.get(i, [])]}
            for i in incident_ids
        ],
        "dead_letters": letters,
    }
    output.write_text(json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n")
    return len(incident_ids)


def erase(app: Incidents, key: str) -> bool:
    """Delete the customer's data key (every event stays; its personal data reads
    ``[erased]``) and record the erasure; whether a key was held."""
    had = _recorder(app).erase_data_key(key)
    log.info("customer_erased", customer_key=key, had_data_key=had)
    return had


@dataclass(frozen=True)
class Encrypted:
    """What ``encrypt_existing`` sealed."""

    events: int
    dead_letters: int
    parked: int

    @property
    def nothing(self) -> bool:
        return not (self.events or self.dead_letters or self.parked)


def encrypt_existing(
    app: Incidents, secret: bytes, region: str | None = None,
    advance: Callable[[int], None] = lambda n: None,
) -> Encrypted:  # fmt: skip
    """Seal the personal data stored in plaintext before encryption existed: give receipts
    their customer key and seal their fields, seal the bytes of dead letters and parked
    events whose message names a customer (as ingest seals them now) — rewriting them in
    place, the one rewrite of history ever done, in one transaction. What is sealed already
    is left as it is: a second run changes nothing."""
    recorder = _recorder(app)
    plain: list[tuple[Incident.Received, str | None, str]] = []
    for _, event in app.events_since(0):
        advance(1)
        if isinstance(event, Incident.Received) and _plain(event):
            key = customer_key(secret, event.customer_phone, event.customer_email, region)
            plain.append((event, key, key or incident_key_id(secret, event.originator_id)))
    messages: list[tuple[str, Any, bytes, str]] = []
    for kind, ident, payload in recorder.stored_payloads():
        advance(1)
        index = None if payload_key_id(payload) is not None else message_key_index(secret, payload, region)
        if index is not None:
            messages.append((kind, ident, payload, index))
    aliases = recorder.customer_aliases({i for *_, i in plain} | {i for *_, i in messages})
    keys = recorder.data_keys({aliases.get(i, i) for *_, i in plain} | {aliases.get(i, i) for *_, i in messages})
    made: dict[str, bytes] = {}

    def data_key(key_id: str) -> bytes:
        if key_id not in keys:
            keys[key_id] = made[key_id] = new_data_key()
        return keys[key_id]

    rewritten: list[tuple[bytes, str, int]] = []
    for event, key, index in plain:
        key_id = aliases.get(index, index)
        sealed, cipher = copy.copy(event), AESGCM(data_key(key_id))
        for name in PERSONAL_FIELDS:
            value = getattr(event, name)
            if value is not None:
                object.__setattr__(sealed, name, seal_text(key_id, cipher, name, value))
        object.__setattr__(sealed, "customer_key", None if key is None else key_id)
        stored = app.mapper.to_stored_event(sealed)
        rewritten.append((stored.state, event.originator_id, event.originator_version))
    letters: list[tuple[bytes, int]] = []
    parked: list[tuple[bytes, str]] = []
    for kind, ident, payload, index in messages:
        key_id = aliases.get(index, index)
        (letters if kind == "dead_letter" else parked).append((seal_payload(key_id, data_key(key_id), payload), ident))
    if rewritten or letters or parked:
        recorder.rewrite_states(rewritten, made, letters, parked)
    log.info("personal_data_encrypted", events=len(rewritten), dead_letters=len(letters),
             parked_events=len(parked), data_keys=len(made))  # fmt: skip
    return Encrypted(len(rewritten), len(letters), len(parked))


def _plain(event: Incident.Received) -> bool:
    return any(
        getattr(event, name) is not None and token_key_id(getattr(event, name)) is None
        for name in PERSONAL_FIELDS
    )


def _recorder(app: Incidents) -> IngestTables:
    recorder = app.recorder
    assert isinstance(recorder, IngestTables)
    return recorder


@dataclass(frozen=True)
class Rotated:
    """What ``rotate_secret`` re-indexed."""

    customers: int  # customer keys still readable, now found under the new secret
    incidents: int  # keys of customers known by name only, by their incident
    messages: int  # dead letters and parked events of customers known only there
    fingerprint: str


def rotate_secret(
    app: Incidents, new_secret: bytes, region: str | None = None,
    advance: Callable[[int], None] = lambda n: None,
) -> Rotated:  # fmt: skip
    """Index every customer whose personal data is still readable under ``new_secret``: the
    keyed hash of their phone (else e-mail) under it names the customer key they already
    have, so new contacts link to the old ones and erase/export by phone or e-mail find them.
    Nothing stored is rewritten: events keep their customer keys and the data keys keep their
    names. Erased customers cannot be read, so get no index: their key links to nothing new.
    The aliases of any earlier rotation are replaced, in one transaction."""
    recorder = _recorder(app)
    receipts = [e for _, e in app.events_since(0) if isinstance(e, Incident.Received) and data_key_ids(e)]
    keys = recorder.data_keys({k for e in receipts for k in data_key_ids(e)})
    customers: dict[str, str] = {}
    incidents: dict[str, str] = {}
    for event in receipts:  # in the order stored: a customer's newest receipt decides
        advance(1)
        opened = opened_fields(event, keys)
        if ERASED in opened.values():  # erased (or sealed under a key erased since)
            continue
        if event.customer_key is not None:
            index = customer_key(new_secret, opened["customer_phone"], opened["customer_email"], region)
            if index is not None:
                customers[index] = event.customer_key
        else:
            incidents[incident_key_id(new_secret, event.originator_id)] = min(data_key_ids(event))
    messages: dict[str, str] = {}
    payloads = [(p, payload_key_id(p)) for _, _, p in recorder.stored_payloads()]
    sealed = {k for _, k in payloads if k is not None}
    keys.update(recorder.data_keys(sealed - keys.keys()))
    for payload, key_id in payloads:
        advance(1)
        message = None if key_id is None else open_payload(payload, keys)
        index = None if message is None else message_key_index(new_secret, message, region)
        if index is not None and index not in customers and index not in incidents:
            messages[index] = str(key_id)
    fingerprint = secret_fingerprint(new_secret)
    recorder.replace_aliases({**messages, **incidents, **customers}, fingerprint)
    log.info("customer_secret_rotated", fingerprint=fingerprint, customers=len(customers),
             incidents=len(incidents), messages=len(messages))  # fmt: skip
    return Rotated(len(customers), len(incidents), len(messages), fingerprint)
