"""The pseudonymous customer key over adversarial customers: one person, one key, whatever the
spelling of their phone or e-mail; two people, two keys."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.customer_key import customer_key, normalised_email, normalised_phone, phone_regions

SECRET = b"a test secret of thirty-two bytes"
_SEPARATORS = st.sampled_from([" ", "-", ".", "\u00a0", "\u2011", "\t", "", "  ", "/"])
# Digits of other scripts a phone may arrive in: fullwidth, Arabic-Indic, Devanagari.
_SCRIPTS = [0xFF10, 0x0660, 0x0966]
# A Russian mobile number (+7 9xx xxx xx xx): ten national digits.
_MOBILE = st.text(alphabet="0123456789", min_size=9, max_size=9).map(lambda d: "9" + d)
_NAMES = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=60)
_LOCAL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._+-", min_size=1, max_size=20)
_EMAILS = st.builds(lambda local, host: f"{local}@{host}.example", _LOCAL, _LOCAL.filter(lambda h: "." not in h))


@st.composite
def spelled(draw: st.DrawFn, national: str) -> str:
    """One of the ways people write +7 ``national``: prefix, separators, brackets, script."""
    prefix = draw(st.sampled_from(["+7", "+ 7", "007", "８", "8", "+７"]))
    groups = [national[:3], national[3:6], national[6:8], national[8:]]
    if draw(st.booleans()):
        groups[0] = f"({groups[0]})"
    body = prefix + draw(_SEPARATORS) + "".join(g + draw(_SEPARATORS) for g in groups)
    script = draw(st.sampled_from([None, *_SCRIPTS]))
    if script is not None:
        body = "".join(chr(script + int(c)) if c.isascii() and c.isdigit() else c for c in body)
    padding = draw(st.sampled_from(["", " ", "\u3000"]))
    return padding + body.strip() + padding


def _case_variant(email: str, flips: list[bool]) -> str:
    return "".join(c.upper() if flip else c for c, flip in zip(email, flips + [False] * len(email)))


@settings(max_examples=300)
@given(national=_MOBILE, data=st.data(), email=_EMAILS, names=st.tuples(_NAMES, _NAMES))
def test_one_person_gets_one_key_however_the_phone_and_email_are_spelled(
    national: str, data: st.DataObject, email: str, names: tuple[str, str]
) -> None:
    one, other = data.draw(spelled(national)), data.draw(spelled(national))
    flips = data.draw(st.lists(st.booleans(), max_size=len(email)))
    variant = " " + _case_variant(email, flips) + "\t"

    first = customer_key(SECRET, one, email, "RU")
    second = customer_key(SECRET, other, variant, "RU")

    assert first is not None and first == second
    assert normalised_phone(one, "RU") == "7" + national
    # Without a phone the e-mail names them, in any case and with white space around it.
    assert customer_key(SECRET, None, email) == customer_key(SECRET, "12", variant) is not None


@settings(max_examples=300)
@given(pair=st.lists(_MOBILE, min_size=2, max_size=2, unique=True), data=st.data(),
       emails=st.lists(_EMAILS, min_size=2, max_size=2, unique_by=str.lower))  # fmt: skip
def test_different_people_get_different_keys(pair: list[str], data: st.DataObject, emails: list[str]) -> None:
    phones = [data.draw(spelled(national)) for national in pair]

    by_phone = {customer_key(SECRET, phone, emails[0], "RU") for phone in phones}
    by_email = {customer_key(SECRET, None, email) for email in emails}

    assert len(by_phone) == 2 and len(by_email) == 2
    assert not by_phone & by_email  # a phone's key is never an e-mail's
    # Another secret, other keys: the key cannot be computed from a phone without it.
    assert customer_key(b"another secret entirely, 32 byte", phones[0], None, "RU") not in by_phone


def test_a_customer_with_neither_phone_nor_email_has_no_key() -> None:
    assert customer_key(SECRET, None, None) is None
    assert customer_key(SECRET, "ext. 12", "  ") is None


def test_the_key_is_c_and_32_hex_digits_of_the_hmac_of_the_normalised_phone_or_email() -> None:
    # Stored in read models and reports: the same customer must get the same key in every version.
    def expected(subject: str) -> str:
        return "c" + hmac.new(SECRET, subject.encode(), hashlib.sha256).hexdigest()[:32]

    assert customer_key(SECRET, "+7 912 345-67-89", None) == expected("phone:+79123456789")
    assert customer_key(SECRET, None, " Ann.Lee@Example.ORG ") == expected("email:ann.lee@example.org")
    assert normalised_email(" Ann.Lee@Example.ORG ") == "ann.lee@example.org"


def test_an_international_number_is_read_as_such_in_any_region_and_a_national_one_in_the_region() -> None:
    assert normalised_phone(" +7 912 345 67 89", "DE") == "79123456789"
    assert normalised_phone("79123456789", "DE") == "4979123456789"  # a German number without the +


def test_an_unparsed_number_keeps_its_digits_and_five_digits_are_enough() -> None:
    assert normalised_phone("1234-5678") == "12345678"  # no region: kept as written
    assert normalised_phone("0012345678") == "12345678"  # the international 00 dropped
    assert normalised_phone("12345") == "12345"
    assert normalised_phone("1234") is None


def test_national_numbers_can_be_read_in_the_regions_phonenumbers_knows() -> None:
    assert {"RU", "DE", "GB", "US"} <= phone_regions()
    assert "XX" not in phone_regions()
