"""What the store holds about one customer: find, open, export, erase; and the one rewrite
of stored events, sealing personal data stored before encryption existed."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from consumers.ingest_recorder import IngestTables
from consumers.personal_data import (
    PERSONAL_FIELDS,
    incident_key_id,
    new_data_key,
    open_payload,
    open_text,
    payload_key_id,
    seal_text,
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
        found += [customer_key(secret, None, address) or "", *_sealed_with_email(app, address)]
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


def encrypt_existing(
    app: Incidents, secret: bytes, region: str | None = None,
    advance: Callable[[int], None] = lambda n: None,
) -> int:  # fmt: skip
    """Seal the personal data of events stored in plaintext and give them their customer key,
    rewriting those stored events in place (the one rewrite of history ever done); return
    how many were rewritten."""
    recorder = _recorder(app)
    rewritten: list[tuple[bytes, str, int]] = []
    made: dict[str, bytes] = {}
    for _, event in app.events_since(0):
        advance(1)
        if not isinstance(event, Incident.Received) or not _plain(event):
            continue
        key = customer_key(secret, event.customer_phone, event.customer_email, region)
        key_id = key or incident_key_id(secret, event.originator_id)
        data_key = made.get(key_id) or recorder.data_keys([key_id]).get(key_id)
        if data_key is None:
            data_key = made[key_id] = new_data_key()
        sealed, cipher = copy.copy(event), AESGCM(data_key)
        for name in PERSONAL_FIELDS:
            value = getattr(event, name)
            if value is not None:
                object.__setattr__(sealed, name, seal_text(key_id, cipher, name, value))
        object.__setattr__(sealed, "customer_key", key)
        stored = app.mapper.to_stored_event(sealed)
        rewritten.append((stored.state, event.originator_id, event.originator_version))
    recorder.rewrite_states(rewritten, made)
    log.info("personal_data_encrypted", events=len(rewritten), data_keys=len(made))
    return len(rewritten)


def _plain(event: Incident.Received) -> bool:
    return any(
        getattr(event, name) is not None and token_key_id(getattr(event, name)) is None
        for name in PERSONAL_FIELDS
    )


def _recorder(app: Incidents) -> IngestTables:
    recorder = app.recorder
    assert isinstance(recorder, IngestTables)
    return recorder
