"""Printable text: which characters show as themselves, and how the others are written."""

from __future__ import annotations

import unicodedata
from functools import cache

# Unicode general categories of characters that do not show as themselves: controls (C0,
# DEL, C1: ESC starts terminal sequences), format characters (bidi overrides and isolates,
# zero-width characters, the BOM, the soft hyphen, tags), surrogates, private use,
# unassigned code points, and the line and paragraph separators. Every other character is
# printable, spaces of every kind included (an ideographic space can be part of a name).
UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_KINDS = {
    "Cc": "a control character", "Cf": "an invisible or bidi format character",
    "Cs": "a surrogate", "Co": "a private-use character", "Cn": "an unassigned code point",
    "Zl": "a line separator", "Zp": "a paragraph separator",
}  # fmt: skip


def is_printable(character: str) -> bool:
    """Whether one character shows as itself (see ``UNPRINTABLE_CATEGORIES``)."""
    return unicodedata.category(character) not in UNPRINTABLE_CATEGORIES


def first_unprintable(text: str) -> str | None:
    """The first character of ``text`` that is not printable, or None."""
    # str.isprintable refuses a superset of ours (it refuses spaces other than U+0020 too):
    # when it accepts, there is nothing to look for, at C speed.
    if text.isprintable():
        return None
    return next((ch for ch in text if not is_printable(ch)), None)


def described(character: str) -> str:
    """A character named without showing it, e.g. "U+001B (a control character)"."""
    kind = _KINDS.get(unicodedata.category(character), "a printable character")
    return f"U+{ord(character):04X} ({kind})"


def escaped(text: str) -> str:
    """``text`` with every unprintable character written as its Python escape (``\\x1b``,
    ``\\n``, ``\\x9b``, ``\\u202e``, ``\\U000e0041``); every other character unchanged."""
    if text.isprintable():
        return text
    return "".join(ch if is_printable(ch) else _escape(ch) for ch in text)


def _escape(character: str) -> str:
    return character.encode("unicode_escape", "backslashreplace").decode("ascii")


@cache
def schema_pattern() -> str:
    """A JSON Schema ``pattern`` refusing the unprintable characters of the Basic Multilingual
    Plane except unassigned ones (ECMA-262 without the ``u`` flag has no astral classes, and
    the unassigned change with each Unicode version); the contract checks them all."""
    spans: list[list[int]] = []
    for point in range(0x10000):
        category = unicodedata.category(chr(point))
        if category in UNPRINTABLE_CATEGORIES - {"Cn", "Cs"}:
            if spans and spans[-1][1] == point - 1:
                spans[-1][1] = point
            else:
                spans.append([point, point])
    ranges = "".join(
        f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in spans
    )
    return f"^[^{ranges}]*$"
