"""Seeded, realistic customer-service traffic as wire-contract event dicts, and its JSONL form."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from random import Random
from typing import IO, NamedTuple
from zoneinfo import ZoneInfo

from producers.traffic_mix import (
    CATEGORIES,
    CHANNELS,
    CS_SOURCE,
    DEPARTMENTS,
    ESCALATION_REASONS,
    ESCALATION_SHARE,
    ESCALATION_TARGETS,
    FEMALE_NAMES,
    GROWTH_PER_MONTH,
    LATE_ANSWER_SHARE,
    LATE_COMPLETION_REPORT_SHARE,
    LATE_HANDOVER_SHARE,
    LONG_SERVICE_SHARE,
    MALE_NAMES,
    OTHER_CAUSES,
    PAPER_CAUSES,
    PAPER_DEPARTMENTS,
    PAUSE_OF_CAUSE,
    PAUSE_REASONS,
    PAUSE_SHARE,
    PRAISED,
    PRIORITIES,
    RATING_COMMENTS,
    RATING_SHARE,
    RATINGS,
    REOPEN_REASONS,
    REOPEN_SHARE,
    RESOLUTIONS,
    SEASONALITY,
    SECOND_ESCALATION_SHARE,
    SOURCES,
    STANDALONE_THANKS_PER_INCIDENT,
    STORE_WEIGHTS,
    STORES,
    SUMMARIES,
    SURNAMES,
    SURVEY_SOURCE,
    THANKING_DEPARTMENTS,
    THANKS_AFTER_GOOD_RATING,
    THANKS_OTHERWISE,
    TROUBLED_RATINGS,
)
from producers.working_hours import (
    OFFICE_HOURS,
    STORE_HOURS,
    WorkingClock,
    WorkingHours,
)

Event = dict[str, object]


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




@dataclass(frozen=True)
class _Contact:
    """A customer contact at a source department, before Customer Service hears of it."""

    department: str
    channel: str
    source: str
    store: str | None
    hours: WorkingHours
    reported_at: datetime


class _Stamped(NamedTuple):
    at: datetime
    event_id: str
    event: Event


def _pick(rng: Random, options: Mapping[str, float]) -> str:
    return rng.choices(tuple(options), weights=tuple(options.values()))[0]


def _iso(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).isoformat()


def _contact(
    rng: Random, clock: WorkingClock, days: list[date], departments: Mapping[str, float]
) -> _Contact:
    department = _pick(rng, departments)
    channel = _pick(rng, CHANNELS[department])
    store = rng.choices(STORES, weights=STORE_WEIGHTS)[0] if department == "retail_store" else None
    hours = STORE_HOURS if store else OFFICE_HOURS
    source = store or SOURCES[department]
    if department == "other" and channel == "email":
        source = "mailbox"
    return _Contact(department, channel, source, store, hours, clock.moment(rng, hours, days))


def _customer(rng: Random) -> dict[str, str]:
    female = rng.random() < 0.55
    first = rng.choice(FEMALE_NAMES if female else MALE_NAMES)
    surname = rng.choice(SURNAMES) + ("a" if female else "")
    digits = [rng.randrange(100), rng.randrange(1000), rng.randrange(100), rng.randrange(100)]
    phone = "+7 9{:02d} {:03d}-{:02d}-{:02d}".format(*digits)
    domain = rng.choice(("com", "org", "net"))
    email = f"{first[0].lower()}.{surname.lower()}{rng.randint(1, 99)}@example.{domain}"
    return {"name": f"{first} {surname}", "phone": phone, "email": email}


def _praised(rng: Random, contact: _Contact) -> str:
    template = rng.choice(PRAISED[contact.department])
    first = rng.choice(FEMALE_NAMES + MALE_NAMES)
    return template.format(first=first, store=contact.store)


def _long_service_cause(rng: Random, department: str) -> str | None:
    if rng.random() >= LONG_SERVICE_SHARE:
        return None
    causes = {**PAPER_CAUSES, **OTHER_CAUSES} if department in PAPER_DEPARTMENTS else OTHER_CAUSES
    return _pick(rng, causes)


def _pause_count(rng: Random, root_cause: str | None) -> int:
    """How often work waits for the customer or a supplier: long cases wait more, twice at most."""
    if root_cause is None:
        return int(rng.random() < PAUSE_SHARE)
    chance = 0.8 if root_cause in PAUSE_OF_CAUSE else 0.5
    return rng.randint(1, 2) if rng.random() < chance else 0


class _Story:
    """One incident's events, built forwards in time so that the lifecycle rules hold."""

    def __init__(
        self, rng: Random, clock: WorkingClock, contact: _Contact, incident_id: str
    ) -> None:
        self.rng, self.clock, self.contact, self.incident_id = rng, clock, contact, incident_id
        self.now = contact.reported_at
        self.events: list[_Stamped] = []
        self.category = ""

    def work(self, minutes: int) -> None:
        """Advance by working minutes of the department's calendar."""
        self.now = self.clock.add(self.contact.hours, self.now, minutes)

    def wait(self, low: int, high: int) -> None:
        """Advance by real minutes: someone outside the department is answering."""
        self.now += timedelta(minutes=self.rng.randint(low, high))

    def emit(self, kind: str, source: str, **fields: object) -> None:
        event_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        event: Event = {
            "event_id": event_id,
            "type": f"incident.{kind}",
            "schema_version": 1,
            "incident_id": self.incident_id,
            "occurred_at": _iso(self.now, self.clock.zone),
            "source": source,
            **{name: value for name, value in fields.items() if value is not None},
        }
        self.events.append(_Stamped(self.now, event_id, event))

    def receive(self) -> None:
        contact, rng = self.contact, self.rng
        if contact.channel != "phone":  # a call is taken by CS on the spot
            late = rng.random() < LATE_HANDOVER_SHARE
            self.work(rng.randint(240, 1800) if late else rng.randint(5, 180))
        self.category = _pick(rng, CATEGORIES[contact.department])
        self.emit(
            "received", contact.source,
            channel=contact.channel, department=contact.department, category=self.category,
            reported_at=_iso(contact.reported_at, self.clock.zone), store=contact.store,
            priority=_pick(rng, PRIORITIES), customer=_customer(rng),
            summary=rng.choice(SUMMARIES[self.category]),
        )

    def handle(self, root_cause: str | None) -> None:
        """Work on the incident until its resolution, possibly pausing and escalating."""
        rng = self.rng
        escalating = rng.random() < ESCALATION_SHARE
        if root_cause:
            minutes = rng.randint(3, 8) * self.contact.hours.minutes_per_day
        elif escalating:
            minutes = rng.randint(15, 240)
        else:
            minutes = rng.randint(20, 300) if rng.random() < 0.65 else rng.randint(300, 960)
        for _ in range(_pause_count(rng, root_cause)):
            minutes = self.pause(root_cause, minutes)
        self.work(minutes)
        if escalating:
            self.escalate()
        self.resolve(root_cause)

    def pause(self, root_cause: str | None, minutes: int) -> int:
        """Pause part-way through ``minutes`` of work; return the work still to do."""
        # At most two thirds of it, so a third remains (≥ 1 minute) for the work after.
        before = self.rng.randint(1, max(1, minutes * 2 // 3))
        self.work(before)
        reason = PAUSE_OF_CAUSE.get(root_cause or "") or _pick(self.rng, PAUSE_REASONS)
        self.emit("paused", CS_SOURCE, reason=reason)
        low, high = (600, 4320) if root_cause else (60, 1440)
        self.wait(low, high)
        self.work(self.rng.randint(1, 30))  # the reply is picked up in working hours
        self.emit("resumed", CS_SOURCE)
        return minutes - before

    def escalate(self) -> None:
        target = _pick(self.rng, ESCALATION_TARGETS)
        self.emit("escalated", CS_SOURCE, escalated_to=target, reason=ESCALATION_REASONS[target])
        if target == "tech_support" and self.rng.random() < SECOND_ESCALATION_SHARE:
            self.wait(60, 600)
            self.emit("escalated", CS_SOURCE, escalated_to="supplier",
                      reason=ESCALATION_REASONS["supplier"])
        low, high = (1440, 2880) if self.rng.random() < LATE_ANSWER_SHARE else (30, 1440)
        self.wait(low, high)
        self.work(self.rng.randint(5, 60))  # the consultant tells the customer in working hours

    def resolve(self, root_cause: str | None) -> None:
        contact, rng = self.contact, self.rng
        completed_at = None
        if contact.store:  # the store does the work, then reports it to CS
            completed_at = _iso(self.now, self.clock.zone)
            late = rng.random() < LATE_COMPLETION_REPORT_SHARE
            self.work(rng.randint(240, 600) if late else rng.randint(10, 180))
        self.emit(
            "resolved", contact.store or CS_SOURCE,
            resolution=_pick(rng, RESOLUTIONS[self.category]), root_cause=root_cause,
            completed_at=completed_at,
        )

    def reopen(self) -> None:
        rng = self.rng
        self.work(rng.randint(60, 3 * self.contact.hours.minutes_per_day))
        self.emit("reopened", CS_SOURCE, reason=rng.choice(REOPEN_REASONS))
        self.work(rng.randint(60, 960))
        self.resolve(None)

    def rate(self, troubled: bool) -> str | None:
        if self.rng.random() >= RATING_SHARE:
            return None
        self.wait(30, 2880)
        rating = _pick(self.rng, TROUBLED_RATINGS if troubled else RATINGS)
        comment = self.rng.choice(RATING_COMMENTS[rating]) if self.rng.random() < 0.4 else None
        self.emit("rated", SURVEY_SOURCE, rating=rating, comment=comment)
        return rating

    def thank(self, rating: str | None) -> None:
        chance = THANKS_AFTER_GOOD_RATING if rating == "good" else THANKS_OTHERWISE
        if self.rng.random() >= chance:
            return
        self.wait(60, 4320)
        channel = "email" if self.contact.channel == "document_system" else self.contact.channel
        self.emit("thanked", self.contact.source, channel=channel, standalone=False,
                  department=self.contact.department, praised=_praised(self.rng, self.contact))


def _incident(
    rng: Random, clock: WorkingClock, contact: _Contact, incident_id: str
) -> list[_Stamped]:
    story = _Story(rng, clock, contact, incident_id)
    story.receive()
    root_cause = _long_service_cause(rng, contact.department)
    story.handle(root_cause)
    reopened = rng.random() < REOPEN_SHARE
    if reopened:
        story.reopen()
    story.thank(story.rate(troubled=reopened or root_cause is not None))
    return story.events


def _standalone_thanks(
    rng: Random, clock: WorkingClock, contact: _Contact, thanks_id: str
) -> _Stamped:
    story = _Story(rng, clock, contact, thanks_id)
    story.emit("thanked", contact.source, channel=contact.channel, standalone=True,
               department=contact.department, praised=_praised(rng, contact))
    return story.events[0]


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
    rng: Random, clock: WorkingClock, ids: _Numbering, days: list[date], volume: int
) -> list[_Stamped]:
    """Every event of the incidents and standalone thanks that begin in one month."""
    def contacts(count: int, departments: Mapping[str, float]) -> list[_Contact]:
        drawn = [_contact(rng, clock, days, departments) for _ in range(count)]
        return sorted(drawn, key=lambda contact: contact.reported_at)

    year = days[0].year
    stamped: list[_Stamped] = []
    for contact in contacts(volume, DEPARTMENTS):
        stamped += _incident(rng, clock, contact, ids.next("INC", year))
    thanks = round(volume * STANDALONE_THANKS_PER_INCIDENT * rng.uniform(0.7, 1.3))
    for contact in contacts(thanks, THANKING_DEPARTMENTS):
        stamped.append(_standalone_thanks(rng, clock, contact, ids.next("THX", year)))
    return stamped


def simulate(spec: SimulationSpec) -> list[Event]:
    """All events of the simulated period, sorted by (occurred_at instant, event_id).

    Events that would happen after the period are left out, so some incidents stay open.
    """
    rng = Random(spec.seed)
    clock = WorkingClock(ZoneInfo(spec.timezone))
    ids = _Numbering()
    starts = _month_starts(spec.start, spec.months)
    stamped: list[_Stamped] = []
    for index, (first, following) in enumerate(pairwise(starts)):
        days = [first + timedelta(days=n) for n in range((following - first).days)]
        stamped += _month(rng, clock, ids, days, _volume(rng, spec, index, first))
    end = clock.instant(starts[-1], 0)
    # An incident's events are built forwards in time: the cut keeps a prefix of each.
    kept = sorted((s for s in stamped if s.at < end), key=lambda s: (s.at, s.event_id))
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
