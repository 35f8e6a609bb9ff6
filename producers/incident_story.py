"""One simulated incident's story: its events, built forwards in time so lifecycle rules hold."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from random import Random
from typing import NamedTuple
from zoneinfo import ZoneInfo

from producers import incident_changes as changes
from producers.incident_changes import pick
from producers import traffic_mix as mix
from producers.working_hours import WorkingClock, WorkingHours

Event = dict[str, object]


@dataclass(frozen=True)
class Contact:
    """A customer contact at a source department, before Customer Service hears of it."""

    department: str
    channel: str
    source: str
    store: str | None
    hours: WorkingHours
    reported_at: datetime


class Stamped(NamedTuple):
    """An event with what places it in the output: its instant, its incident and its step
    in that incident's story (facts of one instant keep the order they happened in)."""

    at: datetime
    incident_id: str
    step: int
    event: Event


def iso(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).isoformat()


def _customer(rng: Random) -> dict[str, str]:
    female = rng.random() < 0.55
    first = rng.choice(mix.FEMALE_NAMES if female else mix.MALE_NAMES)
    surname = rng.choice(mix.SURNAMES) + ("a" if female else "")
    digits = [rng.randrange(100), rng.randrange(1000), rng.randrange(100), rng.randrange(100)]
    phone = "+7 9{:02d} {:03d}-{:02d}-{:02d}".format(*digits)
    domain = rng.choice(("com", "org", "net"))
    email = f"{first[0].lower()}.{surname.lower()}{rng.randint(1, 99)}@example.{domain}"
    return {"name": f"{first} {surname}", "phone": phone, "email": email}


class Customers:
    """Who contacts Customer Service: some incidents name no customer, some customers come
    back (within days, as repeat contacts do), some give a phone only or an e-mail only, and
    a phone is written differently from one contact to the next.

    Its own random stream (from the seed): the rest of the traffic is drawn as without it.
    """

    def __init__(self, seed: int) -> None:
        self.rng = Random(f"customers:{seed}")
        self.known: list[dict[str, str]] = []

    def next(self, fresh: dict[str, str]) -> dict[str, str] | None:
        """The customer of the next incident (``fresh``: a new person, if it is one)."""
        rng = self.rng
        if rng.random() >= mix.CUSTOMER_SHARE:
            return None
        if self.known and rng.random() < mix.RETURNING_CUSTOMER_SHARE:
            person = rng.choice(self.known[-mix.RETURNING_CUSTOMER_POOL :])
        else:
            gives = pick(rng, mix.CUSTOMER_GIVES)
            person = {k: v for k, v in fresh.items() if k in ("name", *gives.split("+"))}
            self.known.append(person)
        written = dict(person)
        if "phone" in written:
            written["phone"] = _spelled(rng, written["phone"])
        if "email" in written and rng.random() < 0.2:
            written["email"] = written["email"].capitalize()
        return written


def _spelled(rng: Random, phone: str) -> str:
    """``+7 9XX XXX-XX-XX`` as people write it: with or without spaces, brackets, dashes, the
    national ``8`` (read as +7 only where national numbers are read in Russia)."""
    d = "".join(c for c in phone if c.isdigit())[1:]  # the ten digits after the country code
    return rng.choice((
        phone, f"+7{d}", f"+7 ({d[:3]}) {d[3:6]} {d[6:8]} {d[8:]}", f"8 {d[:3]} {d[3:6]}-{d[6:8]}-{d[8:]}",
        f"8({d[:3]}){d[3:]}",
    ))  # fmt: skip


def praised(rng: Random, contact: Contact) -> str:
    template = rng.choice(mix.PRAISED[contact.department])
    first = rng.choice(mix.FEMALE_NAMES + mix.MALE_NAMES)
    return template.format(first=first, store=contact.store)


def _long_service_cause(rng: Random, department: str) -> str | None:
    if rng.random() >= mix.LONG_SERVICE_SHARE:
        return None
    causes = mix.OTHER_CAUSES
    if department in mix.PAPER_DEPARTMENTS:
        causes = {**mix.PAPER_CAUSES, **causes}
    return pick(rng, causes)


def _pause_count(rng: Random, root_cause: str | None) -> int:
    """How often work waits for the customer or a supplier: long cases wait more, twice at most."""
    if root_cause is None:
        return int(rng.random() < mix.PAUSE_SHARE)
    chance = 0.8 if root_cause in mix.PAUSE_OF_CAUSE else 0.5
    return rng.randint(1, 2) if rng.random() < chance else 0


class IncidentStory:
    """One incident's events, built forwards in time so that the lifecycle rules hold.

    The story's cursor ``now`` only moves forwards while one actor works on the incident;
    what happens beside it (ratings, the closure) restarts from the resolution, and
    ``events`` puts everything in the order it happened.
    """

    def __init__(
        self, rng: Random, clock: WorkingClock, contact: Contact, incident_id: str,
        customers: Customers | None = None,
    ) -> None:  # fmt: skip
        self.rng, self.clock, self.contact, self.incident_id = rng, clock, contact, incident_id
        self.customers = customers
        self.now = contact.reported_at
        self.stamped: list[Stamped] = []
        self.category, self.priority = "", "normal"
        self.channel, self.holder = contact.channel, contact.department

    def events(self) -> list[Stamped]:
        """The story in the order it happened, each sequenced source's events numbered 0, 1, …"""
        ordered = sorted(self.stamped, key=lambda s: (s.at, s.step))
        counters: dict[str, int] = {}
        for step, stamped in enumerate(ordered):
            source = str(stamped.event["source"])
            if source in mix.SEQUENCED_SOURCES:
                stamped.event["sequence"] = counters.get(source, 0)
                counters[source] = counters.get(source, 0) + 1
            ordered[step] = stamped._replace(step=step)
        return ordered

    def work(self, minutes: int) -> None:
        """Advance by working minutes of the department's calendar."""
        self.now = self.clock.add(self.contact.hours, self.now, minutes)

    def wait(self, low: int, high: int) -> None:
        """Advance by real minutes: someone outside the department is answering."""
        self.now += timedelta(minutes=self.rng.randint(low, high))

    def part_of(self, minutes: int) -> int:
        """Work up to a third of ``minutes``; return the work still to do (≥ 1 minute)."""
        done = self.rng.randint(1, max(1, minutes // 3))
        self.work(done)
        return max(1, minutes - done)

    def emit(self, kind: str, source: str, **fields: object) -> None:
        event_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        event: Event = {
            "event_id": event_id,
            "type": f"incident.{kind}",
            "schema_version": 1,
            "incident_id": self.incident_id,
            "occurred_at": iso(self.now, self.clock.zone),
            "source": source,
            **{name: value for name, value in fields.items() if value is not None},
        }
        self.stamped.append(Stamped(self.now, self.incident_id, len(self.stamped), event))

    def receive(self) -> None:
        contact, rng = self.contact, self.rng
        if contact.channel != "phone":  # a call is taken by CS on the spot
            late = rng.random() < mix.LATE_HANDOVER_SHARE
            self.work(rng.randint(240, 1800) if late else rng.randint(5, 180))
        self.category = pick(rng, mix.CATEGORIES[contact.department])
        self.priority = pick(rng, mix.PRIORITIES)
        self.emit(
            "received", contact.source,
            channel=contact.channel, department=contact.department, category=self.category,
            reported_at=iso(contact.reported_at, self.clock.zone), store=contact.store,
            priority=self.priority, customer=self._customer(),
            summary=rng.choice(mix.SUMMARIES[self.category]),
        )

    def _customer(self) -> dict[str, str] | None:
        fresh = _customer(self.rng)  # drawn either way: the rest of the story stays the same
        return fresh if self.customers is None else self.customers.next(fresh)

    def handle(self, root_cause: str | None) -> None:
        """Work on the incident until its resolution: triage, pauses, an escalation."""
        rng = self.rng
        escalating = rng.random() < mix.ESCALATION_SHARE
        if root_cause:
            minutes = rng.randint(3, 8) * self.contact.hours.minutes_per_day
        elif escalating:
            minutes = rng.randint(15, 240)
        else:
            minutes = rng.randint(20, 300) if rng.random() < 0.65 else rng.randint(300, 960)
        minutes = self.triage(minutes)
        for _ in range(_pause_count(rng, root_cause)):
            minutes = self.pause(root_cause, minutes)
        self.work(minutes)
        if escalating:
            self.escalate()
        self.resolve(root_cause)

    def triage(self, minutes: int) -> int:
        """Moves to other groups and corrections, early in ``minutes`` of work; the rest."""
        rng = self.rng
        moves = changes.moves(rng)
        found = changes.corrections(rng, self.contact.department, self.category, self.channel)
        reprioritised = rng.random() < mix.PRIORITY_CHANGE_SHARE
        for _ in range(moves):
            minutes = self.part_of(minutes)
            self.reassign()
            if found:  # the group it moved to corrects it in the same minute
                self.reclassify(found)
                found = {}
        if found:
            minutes = self.part_of(minutes)
            self.reclassify(found)
        if reprioritised:
            minutes = self.part_of(minutes)
            self.reclassify({"priority": changes.changed_priority(rng, self.priority)})
        return minutes

    def reassign(self, reason: str | None = None) -> None:
        self.holder = changes.next_holder(self.rng, self.holder)
        self.emit(
            "reassigned", mix.CS_SOURCE, department=self.holder,
            assignee=changes.assignee(self.rng), reason=reason or mix.REASSIGN_REASONS[self.holder],
        )  # fmt: skip

    def reclassify(self, fields: dict[str, str]) -> None:
        self.category = fields.get("category", self.category)
        self.channel = fields.get("channel", self.channel)
        self.priority = fields.get("priority", self.priority)
        self.emit("reclassified", mix.CS_SOURCE, **fields)

    def pause(self, root_cause: str | None, minutes: int) -> int:
        """Pause part-way through ``minutes`` of work; return the work still to do."""
        # At most two thirds of it, so a third remains (≥ 1 minute) for the work after.
        before = self.rng.randint(1, max(1, minutes * 2 // 3))
        self.work(before)
        reason = mix.PAUSE_OF_CAUSE.get(root_cause or "") or pick(self.rng, mix.PAUSE_REASONS)
        low, high = (600, 4320) if root_cause else (60, 1440)
        self.wait_for(reason, low, high)
        if self.rng.random() < mix.PAUSE_SWITCH_SHARE:
            # The reply makes it wait for the other party: resumed and paused in one minute.
            self.wait_for(next(r for r in mix.PAUSE_REASONS if r != reason), low, high)
        return minutes - before

    def wait_for(self, reason: str, low: int, high: int) -> None:
        self.emit("paused", mix.CS_SOURCE, reason=reason)
        self.wait(low, high)
        self.work(self.rng.randint(1, 30))  # the reply is picked up in working hours
        self.emit("resumed", mix.CS_SOURCE)

    def escalate(self) -> None:
        target = pick(self.rng, mix.ESCALATION_TARGETS)
        reason = mix.ESCALATION_REASONS[target]
        self.emit("escalated", mix.CS_SOURCE, escalated_to=target, reason=reason)
        if target == "tech_support" and self.rng.random() < mix.SECOND_ESCALATION_SHARE:
            self.wait(60, 600)
            self.emit("escalated", mix.CS_SOURCE, escalated_to="supplier",
                      reason=mix.ESCALATION_REASONS["supplier"])
        low, high = (1440, 2880) if self.rng.random() < mix.LATE_ANSWER_SHARE else (30, 1440)
        self.wait(low, high)
        self.work(self.rng.randint(5, 60))  # the consultant tells the customer in working hours

    def resolve(self, root_cause: str | None) -> None:
        """Resolve; rarely a wrong resolution is reopened and corrected in the same minute."""
        contact, rng = self.contact, self.rng
        completed_at = None
        if contact.store:  # the store does the work, then reports it to CS
            completed_at = iso(self.now, self.clock.zone)
            late = rng.random() < mix.LATE_COMPLETION_REPORT_SHARE
            self.work(rng.randint(240, 600) if late else rng.randint(10, 180))
        options = mix.RESOLUTIONS[self.category]
        resolution = pick(rng, options)
        source = contact.store or mix.CS_SOURCE
        fields = {"root_cause": root_cause, "completed_at": completed_at}
        self.emit("resolved", source, resolution=resolution, **fields)
        if rng.random() < mix.RESOLUTION_CORRECTION_SHARE and len(options) > 1:
            # The desk corrects it, under its counter: only one order of the three is valid,
            # and the two resolutions of one minute never depend on a partition's order.
            self.emit("reopened", mix.CS_SOURCE, reason=mix.RESOLUTION_CORRECTION_REASON)
            corrected = pick(rng, {r: w for r, w in options.items() if r != resolution})
            self.emit("resolved", mix.CS_SOURCE, resolution=corrected, **fields)

    def reopen(self) -> None:
        rng = self.rng
        self.work(rng.randint(60, 3 * self.contact.hours.minutes_per_day))
        self.emit("reopened", mix.CS_SOURCE, reason=rng.choice(mix.REOPEN_REASONS))
        self.work(rng.randint(60, 960))
        self.resolve(None)

    def settle(self) -> None:
        """After the final resolution: maybe re-routed, then closed in the same minute, by the
        nightly job some days later, or never; rarely reopened after closure."""
        rng, resolved_at = self.rng, self.now
        roll = rng.random()
        if roll < mix.CLOSE_AT_RESOLUTION_SHARE:
            self.emit("closed", mix.CS_SOURCE, reason=mix.CLOSE_AT_RESOLUTION_REASON)
        else:
            if rng.random() < mix.REROUTE_RESOLVED_SHARE:
                self.wait(10, 1440)
                self.reassign(mix.REROUTE_REASON)
            if roll >= 1 - mix.LEFT_RESOLVED_SHARE:
                return
            self.now = changes.nightly_close(rng, self.clock, resolved_at)
            self.emit("closed", mix.CS_SOURCE, reason=mix.AUTO_CLOSE_REASON)
        if rng.random() < mix.REOPEN_AFTER_CLOSURE_SHARE:
            self.wait(1440, 14 * 1440)
            reason = rng.choice(mix.REOPEN_AFTER_CLOSURE_REASONS)
            self.emit("reopened", mix.CS_SOURCE, reason=reason)
            self.work(rng.randint(60, 960))
            self.resolve(None)
            self.settle()

    def rate(self, troubled: bool) -> str | None:
        if self.rng.random() >= mix.RATING_SHARE:
            return None
        self.wait(30, 2880)
        rating = pick(self.rng, mix.TROUBLED_RATINGS if troubled else mix.RATINGS)
        comments = mix.RATING_COMMENTS[rating]
        comment = self.rng.choice(comments) if self.rng.random() < 0.4 else None
        self.emit("rated", mix.SURVEY_SOURCE, rating=rating, comment=comment)
        return rating

    def thank(self, rating: str | None) -> None:
        chance = mix.THANKS_AFTER_GOOD_RATING if rating == "good" else mix.THANKS_OTHERWISE
        if self.rng.random() >= chance:
            return
        self.wait(60, 4320)
        channel = "email" if self.contact.channel == "document_system" else self.contact.channel
        self.emit("thanked", self.contact.source, channel=channel, standalone=False,
                  department=self.contact.department, praised=praised(self.rng, self.contact))


def incident_events(
    rng: Random, clock: WorkingClock, contact: Contact, incident_id: str,
    customers: Customers | None = None,
) -> list[Stamped]:  # fmt: skip
    """Every event of one incident, from its receipt on, in the order they happened (its
    customer from ``customers``; None: a new person every time, giving everything)."""
    story = IncidentStory(rng, clock, contact, incident_id, customers)
    story.receive()
    root_cause = _long_service_cause(rng, contact.department)
    story.handle(root_cause)
    reopened = rng.random() < mix.REOPEN_SHARE
    if reopened:
        story.reopen()
    resolved_at = story.now
    story.thank(story.rate(troubled=reopened or root_cause is not None))
    story.now = resolved_at  # the customer's rating and thanks do not hold up the closure
    story.settle()
    return story.events()


def standalone_thanks(
    rng: Random, clock: WorkingClock, contact: Contact, thanks_id: str
) -> Stamped:
    """A thanks contact of its own."""
    story = IncidentStory(rng, clock, contact, thanks_id)
    story.emit("thanked", contact.source, channel=contact.channel, standalone=True,
               department=contact.department, praised=praised(rng, contact))
    return story.events()[0]
