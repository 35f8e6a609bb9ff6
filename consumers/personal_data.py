"""Crypto-shredding of customer data: personal fields sealed with a per-customer data key.

Each customer has a random 256-bit AES-GCM data key, kept in the store's ``customer_keys``
table; stored events and stored messages hold only what it sealed. Deleting the key (an
erasure) leaves every event in place and makes the personal data unreadable for ever.

A customer's data key is named by the customer key (``domain.customer_key``); a customer with
neither phone nor e-mail has no customer key, and their name is sealed under a key of its
incident (``incident_key_id``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.customer_key import customer_key
from domain.fact import Fact

PERSONAL_FIELDS = ("customer_name", "customer_phone", "customer_email")
ERASED = "[erased]"
_TOKEN = "enc1:"
_PAYLOAD = b"\x00ts-sealed1\x00"
_NONCE_BYTES = 12

# Looks up the data keys the store holds for these key ids (absent: never made, or erased).
KeyLookup = Callable[[Collection[str]], dict[str, bytes]]


def new_data_key() -> bytes:
    """A fresh random AES-256-GCM key."""
    return AESGCM.generate_key(bit_length=256)


def incident_key_id(secret: bytes, incident_id: str) -> str:
    """The data key id of a customer known by name only (no phone, no e-mail)."""
    return "i" + hmac.new(secret, f"incident:{incident_id}".encode(), hashlib.sha256).hexdigest()[:32]


def seal_text(key_id: str, cipher: AESGCM, name: str, value: str) -> str:
    """``value`` sealed under the data key (``cipher``: ``AESGCM(data_key)``), bound to its
    key id and field name."""
    nonce = os.urandom(_NONCE_BYTES)
    sealed = cipher.encrypt(nonce, value.encode(), f"{key_id}:{name}".encode())
    return f"{_TOKEN}{key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def token_key_id(value: str | None) -> str | None:
    """The data key id a stored value is sealed under; None for plaintext (or None)."""
    if value is None or not value.startswith(_TOKEN):
        return None
    return value[len(_TOKEN) :].split(":", 1)[0]


def open_text(value: str | None, name: str, keys: dict[str, bytes]) -> str | None:
    """A stored personal field as the customer gave it; ``[erased]`` when its data key is
    gone; plaintext (stored before encryption) as it is."""
    key_id = token_key_id(value)
    if value is None or key_id is None:
        return value
    data_key = keys.get(key_id)
    if data_key is None:
        return ERASED
    blob = base64.urlsafe_b64decode(value[len(_TOKEN) + len(key_id) + 1 :])
    try:
        plain = AESGCM(data_key).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], f"{key_id}:{name}".encode())
    except InvalidTag:  # sealed under an erased key; the customer has a new one since
        return ERASED
    return plain.decode()


def seal_payload(key_id: str, data_key: bytes, payload: bytes) -> bytes:
    """A stored message's bytes sealed under a data key (dead letters, parked events)."""
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(data_key).encrypt(nonce, payload, key_id.encode())
    return _PAYLOAD + key_id.encode() + b":" + nonce + sealed


def payload_key_id(stored: bytes) -> str | None:
    """The data key id a stored message is sealed under; None for plain bytes."""
    if not stored.startswith(_PAYLOAD):
        return None
    return stored[len(_PAYLOAD) :].split(b":", 1)[0].decode(errors="replace")


def open_payload(stored: bytes, keys: dict[str, bytes]) -> bytes | None:
    """A stored message's original bytes; None when its data key is gone (erased)."""
    key_id = payload_key_id(stored)
    if key_id is None:
        return stored
    data_key = keys.get(key_id)
    if data_key is None:
        return None
    blob = stored[len(_PAYLOAD) + len(key_id) + 1 :]
    try:
        return AESGCM(data_key).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], key_id.encode())
    except InvalidTag:
        return None


@dataclass
class BatchVault:
    """Seals one batch's personal data: the data keys it needs are looked up once, missing
    ones made (``new_keys``, stored in the batch's transaction)."""

    secret: bytes
    lookup: KeyLookup
    region: str | None = None  # where national phone numbers are read (domain.customer_key)
    new_keys: dict[str, bytes] = field(default_factory=dict)
    _keys: dict[str, bytes] = field(default_factory=dict)
    _waiting: list[tuple[Fact, str]] = field(default_factory=list)

    def admit(self, fact: Fact) -> None:
        """Give a received fact its customer key; its personal fields wait for ``seal``."""
        details = fact.details
        if fact.kind != "received" or "customer_key" not in details:
            return
        phone, email = details["customer_phone"], details["customer_email"]
        key = customer_key(self.secret, phone if isinstance(phone, str) else None,
                           email if isinstance(email, str) else None, self.region)  # fmt: skip
        details["customer_key"] = key
        if any(isinstance(details[name], str) for name in PERSONAL_FIELDS):
            self._waiting.append((fact, key or incident_key_id(self.secret, fact.incident_id)))

    def data_key(self, key_id: str) -> bytes:
        """The data key of ``key_id`` (looked up with the batch's others, else made)."""
        self._look_up([key_id])
        return self._keys[key_id]

    def seal(self) -> None:
        """Replace the admitted facts' personal fields by what their data keys seal.

        The facts are sealed in place, before they are recorded: each one's digest was taken
        of what its message said."""
        self._look_up({key_id for _, key_id in self._waiting})
        ciphers: dict[str, AESGCM] = {}
        for fact, key_id in self._waiting:
            cipher = ciphers.get(key_id)
            if cipher is None:
                cipher = ciphers[key_id] = AESGCM(self._keys[key_id])
            details = fact.details
            for name in PERSONAL_FIELDS:
                value = details[name]
                if isinstance(value, str):
                    details[name] = seal_text(key_id, cipher, name, value)
        self._waiting.clear()

    def _look_up(self, key_ids: Collection[str]) -> None:
        unknown = [k for k in key_ids if k not in self._keys]
        if not unknown:
            return
        self._keys.update(self.lookup(unknown))
        for key_id in unknown:
            if key_id not in self._keys:
                self._keys[key_id] = self.new_keys[key_id] = new_data_key()
