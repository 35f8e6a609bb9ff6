"""Seeded, realistic customer-service traffic as wire-contract event dicts, and its JSONL form."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from random import Random
from typing import IO
from zoneinfo import ZoneInfo

from producers.incident_story import (
    Contact,
    Customers,
    Event,
    Stamped,
    incident_events,
    standalone_thanks,
)
from producers.incident_changes import pick
from producers.traffic_mix import (
    CHANNELS,
    DEPARTMENTS,
    GROWTH_PER_MONTH,
    SEASONALITY,
    SOURCES,
    STANDALONE_THANKS_PER_INCIDENT,
    STORE_WEIGHTS,
    STORES,
    THANKING_DEPARTMENTS,
)
from producers.working_hours import OFFICE_HOURS, STORE_HOURS, WorkingClock

@dataclass(frozen=True)
class SimulationSpec:
    """What to simulate: how many months from which first day, how busy, in which zone."""

    months: int = 12
    seed: int = 1
    start: date = date(2025, 1, 1)
    incidents_per_month: int = 120
    timezone: str = "Europe/Moscow"

    def __post_init__(self) -> None:
        if self.months < 1 or self.incidents_per_month < 1:
            raise ValueError("months and incidents_per_month must be positive")
        if self.start.day != 1:
            raise ValueError("start must be the first day of a month")


def _contact(
    rng: Random, clock: WorkingClock, days: list[date], departments: Mapping[str, float]
) -> Contact:
    department = pick(rng, departments)
    channel = pick(rng, CHANNELS[department])
    store = rng.choices(STORES, weights=STORE_WEIGHTS)[0] if department == "retail_store" else None
    hours = STORE_HOURS if store else OFFICE_HOURS
    source = store or SOURCES[department]
    if department == "other" and channel == "email":
        source = "mailbox"
    return Contact(department, channel, source, store, hours, clock.moment(rng, hours, days))


class _Numbering:
    """Per-year sequence numbers of ids such as INC-2025-000123."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, int], int] = {}

    def next(self, prefix: str, year: int) -> str:
        number = self._last.get((prefix, year), 0) + 1
        self._last[prefix, year] = number
        return f"{prefix}-{year}-{number:06d}"


def _month_starts(start: date, months: int) -> list[date]:
    return [date(start.year + (start.month - 1 + i) // 12, (start.month - 1 + i) % 12 + 1, 1)
            for i in range(months + 1)]


def _volume(rng: Random, spec: SimulationSpec, index: int, month: date) -> int:
    """Incidents in a month: seasonality, slow growth and a little noise around the mean."""
    factor = SEASONALITY[month.month - 1] * (1 + GROWTH_PER_MONTH * index)
    return max(1, round(spec.incidents_per_month * factor * rng.uniform(0.97, 1.03)))


def _month(
    rng: Random, clock: WorkingClock, ids: _Numbering, days: list[date], volume: int,
    customers: Customers,
) -> list[Stamped]:  # fmt: skip
    """Every event of the incidents and standalone thanks that begin in one month."""
    def contacts(count: int, departments: Mapping[str, float]) -> list[Contact]:
        drawn = [_contact(rng, clock, days, departments) for _ in range(count)]
        return sorted(drawn, key=lambda contact: contact.reported_at)

    year = days[0].year
    stamped: list[Stamped] = []
    for contact in contacts(volume, DEPARTMENTS):
        stamped += incident_events(rng, clock, contact, ids.next("INC", year), customers)
    thanks = round(volume * STANDALONE_THANKS_PER_INCIDENT * rng.uniform(0.7, 1.3))
    for contact in contacts(thanks, THANKING_DEPARTMENTS):
        stamped.append(standalone_thanks(rng, clock, contact, ids.next("THX", year)))
    return stamped


def simulate(spec: SimulationSpec) -> list[Event]:
    """All events of the simulated period, sorted by occurred_at instant; events of one
    instant grouped by incident (in incident id order), each incident's in the order they
    happened — so an upstream publishing in this order puts one incident's same-instant
    facts on one partition in their true order.

    Events that would happen after the period are left out, so some incidents stay open
    (or resolved and not yet closed).
    """
    rng = Random(spec.seed)
    clock = WorkingClock(ZoneInfo(spec.timezone))
    ids = _Numbering()
    customers = Customers(spec.seed)
    starts = _month_starts(spec.start, spec.months)
    stamped: list[Stamped] = []
    for index, (first, following) in enumerate(pairwise(starts)):
        days = [first + timedelta(days=n) for n in range((following - first).days)]
        stamped += _month(rng, clock, ids, days, _volume(rng, spec, index, first), customers)
    end = clock.instant(starts[-1], 0)
    # An incident's events are built forwards in time: the cut keeps a prefix of each.
    kept = sorted((s for s in stamped if s.at < end), key=lambda s: (s.at, s.incident_id, s.step))
    return [s.event for s in kept]


def write_jsonl(events: Iterable[Event], path_or_stream: str | os.PathLike[str] | IO[str]) -> int:
    """Write one compact, key-sorted JSON object per line; return how many were written."""
    if isinstance(path_or_stream, (str, os.PathLike)):
        with open(path_or_stream, "w", encoding="utf-8", newline="\n") as stream:
            return write_jsonl(events, stream)
    count = 0
    for event in events:
        path_or_stream.write(json.dumps(event, separators=(",", ":"), sort_keys=True) + "\n")
        count += 1
    return count
