"""Hypothesis strategies for hostile traffic: the seeded catalogue of bench/hostile_messages.py
driven by hypothesis, plus the contract's invalid messages, each with its expected reason."""

from __future__ import annotations

from collections.abc import Sequence
from random import Random

from hypothesis import strategies as st

from testkit.hostile_messages import (
    ATTACKS, FREE_TEXT_ATTACKS, INVISIBLE_CHARACTERS, LIVE_CODE, TERMINAL_ESCAPES, Event,
    Hostile, World,
)  # fmt: skip
from tests.unit.strategies import TERMINAL_SEQUENCES, invalid_messages, printable_text

CONCERNS = ("received", "escalated", "resolved", "thanked", "lifecycle")


def contract_attacks() -> st.SearchStrategy[Hostile]:
    """Messages that break the wire contract, on any topic, with the reason they must get."""
    return st.builds(
        lambda concern, invalid: (concern, b"JUNK", invalid[0], invalid[1]),
        st.sampled_from(CONCERNS),
        invalid_messages(),
    )


@st.composite
def hostile_mixes(
    draw: st.DrawFn, valid_events: Sequence[Event], max_size: int = 30, max_bytes: int = 64 * 1024
) -> list[Hostile]:
    """A list of attacks on ``valid_events``: catalogue attacks (hypothesis picks which, one
    incident each) and hypothesis-generated contract violations."""
    world = World(valid_events, Random(draw(st.integers(0, 2**32 - 1))), max_bytes)
    attacks = draw(st.lists(st.sampled_from(ATTACKS), max_size=max_size))
    catalogue = [world.attack(attack) for attack in attacks]
    return catalogue + draw(st.lists(contract_attacks(), max_size=max_size // 3))


def nasty_texts() -> st.SearchStrategy[str]:
    """Text that is valid data however hostile it looks: stored and reported verbatim."""
    # A lone surrogate (``\ud800``) is not Unicode: such a message is not_json, not data.
    letters = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))
    return st.sampled_from(FREE_TEXT_ATTACKS) | st.text(letters, min_size=1, max_size=200)


def live_code_labels() -> st.SearchStrategy[str]:
    """Identifiers the contract accepts (printable) that would be live code if rendered as
    such: rich markup, spreadsheet formulas, HTML, alone or inside other printable text."""
    around = printable_text(max_size=10)
    inside = st.tuples(around, st.sampled_from(LIVE_CODE), around).map("".join)
    return st.sampled_from(LIVE_CODE) | inside.filter(lambda t: 1 <= len(t) <= 64)


def hostile_strings() -> st.SearchStrategy[str]:
    """What the renderers must show as text: terminal sequences (ESC/CSI, OSC 0 titles, OSC 8
    links, BEL, C1 controls), bidi overrides and invisible characters, rich markup, formula
    prefixes and HTML, mixed with any other text but U+0000."""
    pieces = st.sampled_from(
        (*TERMINAL_ESCAPES, *INVISIBLE_CHARACTERS, *LIVE_CODE, *TERMINAL_SEQUENCES)
    )
    letters = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))
    noise = st.text(letters, max_size=8)
    return st.lists(pieces | noise, min_size=1, max_size=6).map("".join).filter(bool)
