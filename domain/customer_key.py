"""The pseudonymous customer key: a keyed hash of the customer's normalised phone, else e-mail.

Read models and reports group customers by this key only; without the secret it cannot be
turned back into a phone or an e-mail, nor computed from one.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

import phonenumbers

# Fewer digits than this are no phone number (an extension, a typo): the e-mail is used.
MIN_PHONE_DIGITS = 5


def phone_regions() -> frozenset[str]:
    """The region codes national phone numbers can be read in."""
    return frozenset(phonenumbers.SUPPORTED_REGIONS)


def normalised_phone(phone: str | None, region: str | None = None) -> str | None:
    """The phone in E.164 digits (no ``+``): formatting (spaces, dashes, brackets, dots, any
    script's digits) dropped; a national number (``8 912 …``) read in ``region`` (ISO 3166
    code, e.g. ``RU``), an international one (``+7 …``, ``007 …``) anywhere. A number that
    will not parse keeps its digits, a leading international ``00`` dropped. None when it
    has fewer than ``MIN_PHONE_DIGITS`` digits."""
    if not phone:
        return None
    digits = "".join(str(unicodedata.digit(c)) for c in phone if unicodedata.digit(c, None) is not None)
    plus = unicodedata.normalize("NFKC", phone).lstrip().startswith("+")
    try:
        parsed = phonenumbers.parse(("+" if plus else "") + digits, region)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is not None and phonenumbers.is_possible_number(parsed):
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164).removeprefix("+")
    if not plus and digits.startswith("00"):
        digits = digits[2:]
    return digits if len(digits) >= MIN_PHONE_DIGITS else None


def normalised_email(email: str | None) -> str | None:
    """The e-mail without surrounding white space, lower-cased; None when empty."""
    if email is None:
        return None
    cleaned = unicodedata.normalize("NFKC", email).strip().lower()
    return cleaned or None


def customer_key(
    secret: bytes, phone: str | None, email: str | None, region: str | None = None
) -> str | None:
    """HMAC-SHA256 of the normalised phone (else e-mail) under ``secret``, as 32 hex digits
    with a ``c`` prefix; None when the customer has neither."""
    digits = normalised_phone(phone, region)
    subject = f"phone:+{digits}" if digits else None
    if subject is None:
        address = normalised_email(email)
        subject = f"email:{address}" if address else None
    if subject is None:
        return None
    return "c" + hmac.new(secret, subject.encode(), hashlib.sha256).hexdigest()[:32]
