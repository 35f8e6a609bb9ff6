"""How simulated incidents change hands, get corrected and are closed: the choices made."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from random import Random

from producers.traffic_mix import (
    AUTO_CLOSE_DAYS,
    AUTO_CLOSE_HOUR,
    CATEGORIES,
    CATEGORY_CORRECTION_SHARE,
    CHANNEL_CORRECTION_SHARE,
    CHANNELS,
    FEMALE_NAMES,
    HOLDING_GROUPS,
    MALE_NAMES,
    REASSIGN_AGAIN_SHARE,
    REASSIGN_SHARE,
    SURNAMES,
)
from producers.working_hours import WorkingClock

PRIORITY_LADDER = ("low", "normal", "high", "critical")
# Most priority changes raise it: the customer escalated, or the impact turned out larger.
RAISE_SHARE = 0.7
MAX_MOVES = 3


def pick(rng: Random, options: Mapping[str, float]) -> str:
    """One of ``options``, drawn by weight."""
    return rng.choices(tuple(options), weights=tuple(options.values()))[0]


def moves(rng: Random) -> int:
    """How often an incident moves to another group while open (0 for most)."""
    count = int(rng.random() < REASSIGN_SHARE)
    while 0 < count < MAX_MOVES and rng.random() < REASSIGN_AGAIN_SHARE:
        count += 1
    return count


def next_holder(rng: Random, holder: str) -> str:
    """The group an incident held by ``holder`` moves to."""
    return pick(rng, {group: w for group, w in HOLDING_GROUPS.items() if group != holder})


def assignee(rng: Random) -> str | None:
    """The employee of the new group who takes it, when the group names one."""
    if rng.random() < 0.3:
        return None
    return f"{rng.choice(FEMALE_NAMES + MALE_NAMES)} {rng.choice(SURNAMES)[0]}."


def corrections(rng: Random, department: str, category: str, channel: str) -> dict[str, str]:
    """The classification mistakes found at triage: a wrong category and/or channel.

    A phone call is never mistaken (CS took it on the spot), nor a channel that is the
    department's only one.
    """
    found: dict[str, str] = {}
    if rng.random() < CATEGORY_CORRECTION_SHARE:
        found["category"] = pick(
            rng, {c: w for c, w in CATEGORIES[department].items() if c != category}
        )
    others = {c: w for c, w in CHANNELS[department].items() if c not in (channel, "phone")}
    if channel != "phone" and others and rng.random() < CHANNEL_CORRECTION_SHARE:
        found["channel"] = pick(rng, others)
    return found


def changed_priority(rng: Random, priority: str) -> str:
    """A neighbouring priority: mostly one step up, else one step down."""
    rank = PRIORITY_LADDER.index(priority)
    up = rank + 1 < len(PRIORITY_LADDER) and (rank == 0 or rng.random() < RAISE_SHARE)
    return PRIORITY_LADDER[rank + 1 if up else rank - 1]


def nightly_close(rng: Random, clock: WorkingClock, resolved_at: datetime) -> datetime:
    """When the nightly job closes an incident resolved at ``resolved_at``: the first run
    (at AUTO_CLOSE_HOUR local time, a few minutes into it) after AUTO_CLOSE_DAYS days."""
    due = resolved_at + timedelta(days=AUTO_CLOSE_DAYS)
    night = due.astimezone(clock.zone).date() + timedelta(days=1)
    return clock.instant(night, AUTO_CLOSE_HOUR) + timedelta(minutes=rng.randint(0, 29))
