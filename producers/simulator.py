"""Seeded, realistic customer-service traffic as wire-contract event dicts, and its JSONL form."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from random import Random
from typing import IO, NamedTuple
from zoneinfo import ZoneInfo

Event = dict[str, object]

# Who hands incidents over, and through which channels (DESIGN §1).
DEPARTMENTS = {
    "retail_store": 0.40,
    "call_centre": 0.28,
    "service_centre": 0.10,
    "services": 0.08,
    "document_management": 0.07,
    "other": 0.07,
}
THANKING_DEPARTMENTS = {
    "retail_store": 0.45, "call_centre": 0.30, "service_centre": 0.10, "services": 0.10,
    "other": 0.05,
}
CHANNELS: Mapping[str, Mapping[str, float]] = {
    "retail_store": {"email": 0.45, "document_system": 0.35, "in_store": 0.20},
    "call_centre": {"phone": 0.60, "email": 0.28, "chat": 0.07, "messenger": 0.05},
    "service_centre": {"email": 0.92, "document_system": 0.08},
    "services": {"email": 0.90, "document_system": 0.10},
    "document_management": {"document_system": 1.0},
    "other": {"email": 0.45, "web_form": 0.25, "social": 0.15, "messenger": 0.10, "chat": 0.05},
}
SOURCES = {
    "call_centre": "callcentre",
    "service_centre": "service-centre",
    "services": "services",
    "document_management": "edms",
    "other": "web",
}
STORES = tuple(f"store-{n:03d}" for n in (1, 2, 3, 5, 7, 8, 11, 12, 14, 15, 17, 19, 21, 23, 26))
STORE_WEIGHTS = tuple(1 / (1 + 0.2 * rank) for rank in range(len(STORES)))
CATEGORIES: Mapping[str, Mapping[str, float]] = {
    "retail_store": {
        "promotion_terms": 0.25, "poor_consultation": 0.25, "product_quality": 0.25,
        "quality_certificate": 0.10, "warranty": 0.15,
    },
    "call_centre": {
        "promotion_terms": 0.15, "poor_consultation": 0.10, "product_quality": 0.20,
        "poor_service": 0.15, "delivery": 0.20, "assembly": 0.08, "warranty": 0.12,
    },
    "service_centre": {"warranty": 0.55, "product_quality": 0.30, "poor_service": 0.15},
    "services": {"assembly": 0.45, "delivery": 0.30, "poor_service": 0.25},
    "document_management": {"quality_certificate": 0.60, "product_quality": 0.25, "warranty": 0.15},
    "other": {
        "poor_service": 0.35, "delivery": 0.30, "promotion_terms": 0.20, "product_quality": 0.15,
    },
}
SUMMARIES = {
    "promotion_terms": ("Promotion discount was not applied at checkout",
                        "Customer disputes the terms of a loyalty promotion"),
    "poor_consultation": ("Consultant gave wrong information about the product",
                          "Customer was not told about compatible accessories"),
    "product_quality": ("Product stopped working within two weeks",
                        "Visible defect found after unpacking"),
    "quality_certificate": ("Customer asks for the quality certificate of a product",
                            "Certificate of conformity requested for a purchase"),
    "poor_service": ("Long queue and impolite staff at the service desk",
                     "Promised call-back never happened"),
    "delivery": ("Delivery missed the agreed time slot", "Goods were delivered damaged"),
    "assembly": ("Assembly team did not arrive", "Furniture assembled with missing parts"),
    "warranty": ("Warranty repair takes longer than promised",
                 "Warranty claim refused without explanation"),
}
RESOLUTIONS: Mapping[str, Mapping[str, float]] = {
    "promotion_terms": {"explanation": 0.6, "refund": 0.4},
    "poor_consultation": {"explanation": 0.5, "exchange": 0.3, "refund": 0.2},
    "product_quality": {"exchange": 0.45, "refund": 0.30, "repair": 0.25},
    "quality_certificate": {"certificate_provided": 0.9, "explanation": 0.1},
    "poor_service": {"explanation": 0.7, "refund": 0.3},
    "delivery": {"explanation": 0.5, "refund": 0.3, "exchange": 0.2},
    "assembly": {"repair": 0.6, "explanation": 0.4},
    "warranty": {"repair": 0.6, "exchange": 0.3, "explanation": 0.1},
}
PRIORITIES = {"normal": 0.75, "high": 0.12, "low": 0.10, "critical": 0.03}
# Paper-trail causes come from departments that hand over documents.
PAPER_CAUSES = {
    "incomplete_documents": 0.22, "no_comment": 0.10, "missing_remark_number": 0.09,
    "illegible_customer_name": 0.07, "low_resolution_scan": 0.08,
}
OTHER_CAUSES = {
    "slow_department_response": 0.17, "supplier_delay": 0.13, "customer_unreachable": 0.09,
    "waiting_for_expert": 0.05,
}
PAPER_DEPARTMENTS = frozenset({"retail_store", "document_management"})
PAUSE_OF_CAUSE = {
    "supplier_delay": "awaiting_supplier", "customer_unreachable": "awaiting_customer",
}
PAUSE_REASONS = {"awaiting_customer": 0.6, "awaiting_supplier": 0.4}
ESCALATION_TARGETS = {"tech_support": 0.70, "store_manager": 0.18, "supplier": 0.12}
ESCALATION_REASONS = {
    "tech_support": "technical question for an engineer",
    "store_manager": "decision of the store manager needed",
    "supplier": "supplier assessment of the defect",
}
REOPEN_REASONS = (
    "customer disputes the resolution", "the defect came back", "refund not received",
)
RATINGS = {"good": 0.58, "neutral": 0.25, "bad": 0.17}
TROUBLED_RATINGS = {"good": 0.25, "neutral": 0.30, "bad": 0.45}
RATING_COMMENTS = {
    "good": ("quick and polite", "problem solved, thank you"),
    "neutral": ("took a while but solved", "ok"),
    "bad": ("took far too long", "had to call several times"),
}
PRAISED = {
    "retail_store": ("consultant {first}", "{store} team"),
    "call_centre": ("operator {first}", "call centre team"),
    "service_centre": ("engineer {first}", "service centre team"),
    "services": ("assembly team", "installer {first}"),
    "document_management": ("document service team",),
    "other": ("customer service team", "manager {first}"),
}
MALE_NAMES = ("Alexei", "Dmitry", "Ivan", "Sergei", "Pavel", "Mikhail", "Andrei", "Nikolai")
FEMALE_NAMES = ("Anna", "Olga", "Maria", "Elena", "Natalia", "Irina", "Tatiana", "Svetlana")
SURNAMES = ("Ivanov", "Petrov", "Smirnov", "Kuznetsov", "Popov", "Sokolov", "Volkov", "Lebedev")

# Calendar month → relative volume (New Year, 8 March, back to school); mean ≈ 1.
SEASONALITY = (0.93, 0.93, 1.04, 0.97, 0.94, 0.96, 1.00, 1.08, 1.06, 1.00, 1.02, 1.07)
GROWTH_PER_MONTH = 0.005
ESCALATION_SHARE = 0.15
SECOND_ESCALATION_SHARE = 0.10
LONG_SERVICE_SHARE = 0.15
PAUSE_SHARE = 0.22
LATE_HANDOVER_SHARE = 0.12  # of non-phone contacts, ≈ 10 % of all
LATE_ANSWER_SHARE = 0.10
LATE_COMPLETION_REPORT_SHARE = 0.08
REOPEN_SHARE = 0.06
RATING_SHARE = 0.33
STANDALONE_THANKS_PER_INCIDENT = 0.035
THANKS_AFTER_GOOD_RATING = 0.20
THANKS_OTHERWISE = 0.018
CS_SOURCE = "cs-desk"
SURVEY_SOURCE = "csat-survey"


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
class _Hours:
    """Local working hours of a department, and whether it works at weekends."""

    opens: int
    closes: int
    weekends: bool

    def works_on(self, day: date) -> bool:
        return self.weekends or day.weekday() < 5

    @property
    def minutes_per_day(self) -> int:
        return (self.closes - self.opens) * 60


STORE_HOURS = _Hours(10, 22, weekends=True)
OFFICE_HOURS = _Hours(9, 18, weekends=False)


class _Clock:
    """Working-time arithmetic on UTC instants, with working days read in the local zone."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._windows: dict[tuple[_Hours, date], tuple[datetime, datetime] | None] = {}

    def window(self, hours: _Hours, day: date) -> tuple[datetime, datetime] | None:
        """The working interval of ``day`` as UTC instants, or None on a day off."""
        key = (hours, day)
        if key not in self._windows:
            self._windows[key] = (
                (self.instant(day, hours.opens), self.instant(day, hours.closes))
                if hours.works_on(day) else None
            )
        return self._windows[key]

    def instant(self, day: date, hour: int) -> datetime:
        return datetime.combine(day, time(hour), self.zone).astimezone(UTC)

    def add(self, hours: _Hours, start: datetime, minutes: int) -> datetime:
        """The instant ``minutes`` working minutes after ``start``."""
        remaining = timedelta(minutes=minutes)
        day = start.astimezone(self.zone).date()
        while True:
            window = self.window(hours, day)
            if window is not None:
                begin = max(start, window[0])
                if begin + remaining <= window[1]:
                    return begin + remaining
                if begin < window[1]:
                    remaining -= window[1] - begin
            day += timedelta(days=1)

    def moment(self, rng: Random, hours: _Hours, days: list[date]) -> datetime:
        """A random whole minute inside the working hours of one of ``days``."""
        window = self.window(hours, rng.choice([d for d in days if hours.works_on(d)]))
        assert window is not None  # the day was chosen among working days
        span = int((window[1] - window[0]).total_seconds()) // 60
        return window[0] + timedelta(minutes=rng.randrange(span))


@dataclass(frozen=True)
class _Contact:
    """A customer contact at a source department, before Customer Service hears of it."""

    department: str
    channel: str
    source: str
    store: str | None
    hours: _Hours
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
    rng: Random, clock: _Clock, days: list[date], departments: Mapping[str, float]
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

    def __init__(self, rng: Random, clock: _Clock, contact: _Contact, incident_id: str) -> None:
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


def _incident(rng: Random, clock: _Clock, contact: _Contact, incident_id: str) -> list[_Stamped]:
    story = _Story(rng, clock, contact, incident_id)
    story.receive()
    root_cause = _long_service_cause(rng, contact.department)
    story.handle(root_cause)
    reopened = rng.random() < REOPEN_SHARE
    if reopened:
        story.reopen()
    story.thank(story.rate(troubled=reopened or root_cause is not None))
    return story.events


def _standalone_thanks(rng: Random, clock: _Clock, contact: _Contact, thanks_id: str) -> _Stamped:
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
    rng: Random, clock: _Clock, ids: _Numbering, days: list[date], volume: int
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
    clock = _Clock(ZoneInfo(spec.timezone))
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
