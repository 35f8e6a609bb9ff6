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

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from consumers.errors import SecretMismatch
from domain.customer_key import customer_key
from domain.fact import Fact

PERSONAL_FIELDS = ("customer_name", "customer_phone", "customer_email")
ERASED = "[erased]"
_TOKEN = "enc1:"
_PAYLOAD = b"\x00ts-sealed1\x00"
_NONCE_BYTES = 12

# Looks up the data keys the store holds for these key ids (absent: never made, or erased).
KeyLookup = Callable[[Collection[str]], dict[str, bytes]]
# Looks up which customer key each of these key indexes (keyed hashes under the secret in
# force) stands for, in a store whose secret was rotated (absent: the index is the key).
AliasLookup = Callable[[Collection[str]], dict[str, str]]


def secret_fingerprint(secret: bytes) -> str:
    """A name of the customer key secret that tells secrets apart and reveals nothing of it."""
    return hmac.new(secret, b"ticketstream customer key secret fingerprint", hashlib.sha256).hexdigest()[:16]


def check_secret(secret: bytes, rotations: list[tuple[str, str, int]]) -> None:
    """Refuse a secret other than the one the store was last rotated to (``rotations``: the
    store's, oldest first): its keys would make every returning customer a new one.

    Raises:
        SecretMismatch: when the store was rotated to another secret.
    """
    if rotations and rotations[-1][1] != secret_fingerprint(secret):
        raise SecretMismatch(
            f"the customer key secret (fingerprint {secret_fingerprint(secret)}) is not the one this store"
            f" was rotated to on {rotations[-1][0][:19]} (fingerprint {rotations[-1][1]}): configure that one"
        )


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


def message_key_index(secret: bytes, value: bytes, region: str | None = None) -> str | None:
    """The key index of a message's customer, read from its JSON as far as it goes (a message
    the contract refused, a stored dead letter): their customer key, else their incident's
    key (``incident_key_id``); None when it names no customer or is no JSON object at all."""
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    customer = body.get("customer") if isinstance(body, dict) else None
    if not customer:
        return None
    if isinstance(customer, dict):
        phone, email = customer.get("phone"), customer.get("email")
        key = customer_key(secret, phone if isinstance(phone, str) else None,
                           email if isinstance(email, str) else None, region)  # fmt: skip
        if key is not None:
            return key
    incident_id = body.get("incident_id")
    return incident_key_id(secret, incident_id if isinstance(incident_id, str) else repr(body.get("event_id")))


def no_aliases(indexes: Collection[str]) -> dict[str, str]:
    """A store never re-keyed: every index is the customer's key."""
    return {}


@dataclass
class BatchVault:
    """Seals one batch's personal data: the customer keys' aliases (``AliasLookup``) and the
    data keys it needs are each looked up once, missing data keys made (``new_keys``, stored
    in the batch's transaction)."""

    secret: bytes
    lookup: KeyLookup
    region: str | None = None  # where national phone numbers are read (domain.customer_key)
    aliases: AliasLookup = no_aliases
    new_keys: dict[str, bytes] = field(default_factory=dict)
    _keys: dict[str, bytes] = field(default_factory=dict)
    _waiting: list[tuple[Fact, str, bool]] = field(default_factory=list)
    _letters: list[tuple[bytes, str]] = field(default_factory=list)
    _key_ids: dict[Fact, str] = field(default_factory=dict)

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
            self._waiting.append((fact, key or incident_key_id(self.secret, fact.incident_id), key is not None))

    def admit_letter(self, value: bytes) -> int | None:
        """A refused message to be stored sealed when it names a customer: its number for
        ``sealed_letter`` (after ``seal``); None: it names none, stored as it came."""
        index = message_key_index(self.secret, value, self.region)
        if index is None:
            return None
        self._letters.append((value, index))
        return len(self._letters) - 1

    def sealed_letter(self, number: int) -> bytes:
        """The bytes of an admitted letter, sealed under its customer's data key."""
        value, key_id = self._letters[number]
        return seal_payload(key_id, self._keys[key_id], value)

    def key_id(self, fact: Fact) -> str | None:
        """The data key id an admitted, sealed fact's personal data is under (None: it has none)."""
        return self._key_ids.get(fact)

    def data_key(self, key_id: str) -> bytes:
        """The data key of ``key_id`` (looked up with the batch's others, else made)."""
        self._look_up([key_id])
        return self._keys[key_id]

    def seal(self) -> None:
        """Resolve the admitted facts' and letters' customer keys (a re-keyed store's aliases),
        then replace the facts' personal fields by what their data keys seal.

        The facts are sealed in place, before they are recorded: each one's digest was taken
        of what its message said."""
        indexes = {index for _, index, _ in self._waiting} | {index for _, index in self._letters}
        found = self.aliases(indexes) if indexes else {}
        if found:
            self._waiting = [(f, found.get(i, i), k) for f, i, k in self._waiting]
            self._letters = [(v, found.get(i, i)) for v, i in self._letters]
        self._look_up({key_id for _, key_id, _ in self._waiting} | {key_id for _, key_id in self._letters})
        ciphers: dict[str, AESGCM] = {}
        for fact, key_id, keyed in self._waiting:
            details = fact.details
            if keyed:
                details["customer_key"] = key_id
            self._key_ids[fact] = key_id
            cipher = ciphers.get(key_id)
            if cipher is None:
                cipher = ciphers[key_id] = AESGCM(self._keys[key_id])
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
