"""Clock rules for tests, independent of the configuration, and incidents made fact by fact.

Customer Service works Monday to Friday 9:00-18:00 Moscow time; store-014 10:00-22:00 Monday
to Saturday; resolution takes two CS working days (high priority 12 hours, critical 9);
ownership two working days of the holding group (tech_support 4 hours), on its calendar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import count
from zoneinfo import ZoneInfo

from domain.calendar import BusinessCalendar, Hours
from domain.clocks import ClockRow, ClockStatus, status_as_of
from domain.fact import Fact, Primitive
from domain.incident import Incident
from domain.incident_clocks import compute_clocks

MOSCOW = ZoneInfo("Europe/Moscow")
MONDAY, FRIDAY = date(2024, 8, 12), date(2024, 8, 16)
DAYTIME: Hours = ((time(10), time(22)),)
OFFICE: Hours = ((time(9), time(18)),)

# The store of DESIGN §4 (10:00–22:00, closed on Sunday) and Customer Service (Mon–Fri 9–18).
STORE = BusinessCalendar("store-014", "Europe/Moscow", {day: DAYTIME for day in range(6)})
CS = BusinessCalendar("customer-service", "Europe/Moscow", {day: OFFICE for day in range(5)})
ALWAYS = BusinessCalendar.always_open()
TARGETS = {"handover": 180, "escalation_response": 24 * 60, "completion_report": 180}
# Resolution targets by priority (else the policy's), ownership targets by holding group.
BY_PRIORITY = {"high": 12 * 60, "critical": 9 * 60}
OWNERSHIP = {"tech_support": 4 * 60}
# Where the holding group works: the ownership clock counts on its calendar (else CS's).
GROUP_CALENDARS = {"retail_store": STORE, "night_desk": ALWAYS}


@dataclass(frozen=True)
class FakeRule:
    target_minutes: float
    grace_minutes: float = 0.0


@dataclass(frozen=True)
class FakePolicy:
    version: int
    resolution_minutes: float = 2 * 9 * 60  # two CS working days

    def rule_for(
        self, clock: str, department: str, channel: str, category: str | None, priority: str
    ) -> FakeRule:
        if clock == "handover" and channel == "phone":
            return FakeRule(0, 15)
        if clock == "resolution":
            return FakeRule(BY_PRIORITY.get(priority, self.resolution_minutes))
        if clock == "ownership":
            return FakeRule(OWNERSHIP.get(department, self.resolution_minutes))
        return FakeRule(TARGETS[clock])


@dataclass(frozen=True)
class FakeAtRisk:
    share: float = 0.2
    minutes: float = 30


V1, V2 = FakePolicy(1), FakePolicy(2, resolution_minutes=9 * 60)


@dataclass(frozen=True)
class FakeRules:
    """Rules as the SLA configuration would give them: policies by the instant they apply from."""

    policies: tuple[tuple[datetime, FakePolicy], ...] = ((datetime.min.replace(tzinfo=UTC), V1),)
    at_risk: FakeAtRisk = field(default_factory=FakeAtRisk)

    def calendar_for(self, clock: str, department: str, store: str | None) -> BusinessCalendar:
        if clock == "escalation_response":
            return ALWAYS
        if clock == "ownership":
            return GROUP_CALENDARS.get(department, CS)
        return STORE if store and clock != "resolution" else CS

    def calendar(self, name: str) -> BusinessCalendar:
        return {c.name: c for c in (STORE, CS, ALWAYS)}[name]

    def policy_at(self, instant: datetime) -> FakePolicy:
        return [policy for since, policy in self.policies if since <= instant][-1]

    def policy(self, version: int) -> FakePolicy:
        return next(policy for _, policy in self.policies if policy.version == version)

    @property
    def current(self) -> FakePolicy:
        return self.policies[-1][1]


RULES = FakeRules()
_IDS = count(1)
_DETAILS: dict[str, dict[str, Primitive]] = {
    "received": {
        "channel": "in_store", "department": "retail_store", "category": "product_quality",
        "reported_at": None, "store": "store-014", "priority": "normal", "customer_name": None,
        "customer_phone": None, "customer_email": None, "customer_key": None, "summary": None,
    },
    "escalated": {"escalated_to": "tech_support", "reason": None},
    "resolved": {"resolution": "exchange", "root_cause": None, "completed_at": None},
    "thanked": {"channel": "phone", "standalone": False, "department": None, "praised": None},
    "reopened": {"reason": None},
    "paused": {"reason": "awaiting_customer"},
    "resumed": {},
    "rated": {"rating": "good", "comment": None},
    "reassigned": {"department": "tech_support", "assignee": None, "reason": None},
    "reclassified": {"priority": "high", "category": None, "channel": None},
    "closed": {"reason": None},
}  # fmt: skip
PHONE: dict[str, Primitive] = {"channel": "phone", "department": "call_centre", "store": None}


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A Moscow wall-clock time."""
    return datetime.combine(day, time(hour, minute), MOSCOW)


def fact(kind: str, occurred_at: datetime, **details: Primitive) -> Fact:
    return Fact(
        kind, "INC-1", f"{kind}-{next(_IDS)}", occurred_at, "store-014",
        {**_DETAILS[kind], **details},
    )  # fmt: skip


def events_of(first: Fact, *facts: Fact) -> list[Incident.Event]:
    """The stored events of an incident begun by ``first`` that then had ``facts``."""
    incident = Incident.begin(first)
    assert not incident.record(facts)
    return [e for e in incident.collect_events() if isinstance(e, Incident.Event)]


def clocks_of(first: Fact, *facts: Fact) -> list[ClockRow]:
    return compute_clocks(events_of(first, *facts), RULES)


def the(rows: list[ClockRow], clock: str, cycle: int = 1) -> ClockRow:
    return next(row for row in rows if (row.clock, row.cycle) == (clock, cycle))


def status(row: ClockRow, as_of: datetime) -> ClockStatus | None:
    return status_as_of(row, RULES.calendar(row.calendar), as_of, RULES.at_risk)


def known(row: ClockRow, as_of: datetime) -> ClockStatus:
    result = status(row, as_of)
    assert result is not None
    return result


def on_monday(**details: Primitive) -> Fact:
    """A store incident received by CS when it opens on Monday."""
    return fact("received", at(MONDAY, 9), **details)
