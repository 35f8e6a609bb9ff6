"""The SLA rules in force: business calendars per party and versioned targets per clock."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from types import MappingProxyType

from domain.calendar import BusinessCalendar, Hours

CLOCKS = ("handover", "escalation_response", "completion_report", "resolution", "ownership")
SELECTORS = ("department", "channel", "category", "priority")
ALWAYS_OPEN = "24/7"
STORE_DEPARTMENT = "retail_store"
# The ownership clock's target where a policy version states none: two working days of the
# holding department, like the resolution clock's default, so that config files written
# before the ownership clock existed keep loading with the same meaning.
OWNERSHIP_DEFAULT_MINUTES = 1080.0

_SELECTOR_NAMES = f"{', '.join(SELECTORS[:-1])} or {SELECTORS[-1]}"

Key = tuple[str | int, ...]


class SlaRulesError(ValueError):
    """The SLA rules are inconsistent, or a question cannot be answered under them.

    ``key`` names the offending part of the definition as a path of field names and indexes,
    relative to the object that raised (e.g. ``("department_calendars", "retail_store")``);
    ``reason`` is the message without that path.
    """

    def __init__(self, reason: str, key: Key = ()) -> None:
        super().__init__(f"{_dotted(key)}: {reason}" if key else reason)
        self.reason = reason
        self.key = key


def _unknown_clock(clock: str) -> str:
    return f"unknown clock {clock!r} (clocks: {', '.join(CLOCKS)})"


def _check_minutes(minutes: float, key: Key) -> None:
    if isinstance(minutes, bool) or not math.isfinite(minutes) or minutes < 0:
        raise SlaRulesError(f"must be a finite number >= 0, not {minutes!r}", key)


@dataclass(frozen=True)
class PolicyRule:
    """A target for one clock, for the incidents its non-``None`` selectors match."""

    clock: str
    target_minutes: float
    grace_minutes: float = 0.0
    department: str | None = None
    channel: str | None = None
    category: str | None = None
    priority: str | None = None

    def __post_init__(self) -> None:
        """Validate the rule.

        Raises:
            SlaRulesError: an unknown clock, or a negative or non-finite number of minutes.
        """
        if self.clock not in CLOCKS:
            raise SlaRulesError(_unknown_clock(self.clock), ("clock",))
        for name in ("target_minutes", "grace_minutes"):
            _check_minutes(getattr(self, name), (name,))
            object.__setattr__(self, name, float(getattr(self, name)))

    @property
    def specificity(self) -> int:
        """How many selectors the rule sets: the more, the more specific."""
        wanted = (self.department, self.channel, self.category, self.priority)
        return sum(want is not None for want in wanted)

    def matches(self, department: str, channel: str, category: str | None, priority: str) -> bool:
        """Whether every selector the rule sets equals the incident's value."""
        actual = (department, channel, category, priority)
        wanted = (self.department, self.channel, self.category, self.priority)
        return all(want in (None, value) for want, value in zip(wanted, actual, strict=True))


@dataclass(frozen=True)
class PolicyVersion:
    """The targets of every clock, in force from ``effective_from`` until the next version."""

    version: int
    effective_from: datetime
    rules: tuple[PolicyRule, ...]
    # The rule chosen per (clock, selectors): asked for every clock of every incident.
    _chosen: dict[tuple[str | None, ...], PolicyRule] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        """Validate the version.

        A version without a catch-all ownership rule gets one of ``OWNERSHIP_DEFAULT_MINUTES``
        (any ownership rule the version states is more specific, so it still wins).

        Raises:
            SlaRulesError: a naive ``effective_from``, or a clock without a catch-all rule.
        """
        if self.effective_from.utcoffset() is None:
            raise SlaRulesError("must have a time zone offset", ("effective_from",))
        rules = tuple(self.rules)
        if not any(rule.clock == "ownership" and rule.specificity == 0 for rule in rules):
            rules = (*rules, PolicyRule("ownership", OWNERSHIP_DEFAULT_MINUTES))
        object.__setattr__(self, "rules", rules)
        for clock in CLOCKS:
            if not any(rule.clock == clock and rule.specificity == 0 for rule in self.rules):
                raise SlaRulesError(
                    f"no catch-all rule for clock {clock!r} (one with no {_SELECTOR_NAMES})",
                    ("rules",),
                )

    def rule_for(
        self, clock: str, department: str, channel: str, category: str | None, priority: str
    ) -> PolicyRule:
        """The most specific rule for ``clock`` that matches the incident.

        The most specific rule sets the most selectors; among equally specific rules the later
        one in ``rules`` wins.

        Raises:
            SlaRulesError: no rule matches (only for a clock this version does not know).
        """
        key = (clock, department, channel, category, priority)
        rule = self._chosen.get(key)
        if rule is None:
            rule = self._chosen[key] = _most_specific(self, *key)
        return rule


def _most_specific(
    policy: PolicyVersion, clock: str, department: str, channel: str, category: str | None,
    priority: str,
) -> PolicyRule:  # fmt: skip
    candidates = [
        (rule.specificity, index, rule)
        for index, rule in enumerate(policy.rules)
        if rule.clock == clock and rule.matches(department, channel, category, priority)
    ]
    if not candidates:
        raise SlaRulesError(f"policy version {policy.version} has no rule for clock {clock!r}")
    return max(candidates, key=lambda candidate: candidate[:2])[2]


@dataclass(frozen=True)
class AtRiskRule:
    """When a running clock counts as at risk: remaining ≤ max(share × target, minutes)."""

    share: float = 0.2
    minutes: float = 30.0

    def __post_init__(self) -> None:
        """Validate the rule.

        Raises:
            SlaRulesError: a share outside 0..1, or negative or non-finite minutes.
        """
        if not 0 <= self.share <= 1:
            raise SlaRulesError(f"must be between 0 and 1, not {self.share!r}", ("share",))
        _check_minutes(self.minutes, ("minutes",))


@dataclass(frozen=True)
class SlaRules:
    """Calendars and versioned policies; the one object the clock computation asks.

    ``calendars`` maps a name to its calendar (the ``"24/7"`` calendar is always-open unless
    defined); ``department_calendars`` and ``store_calendars`` map a department or a store to a
    calendar name. ``policies`` are kept sorted by ``effective_from``.
    """

    calendars: Mapping[str, BusinessCalendar]
    department_calendars: Mapping[str, str]
    store_calendars: Mapping[str, str]
    customer_service_calendar: str
    policies: Sequence[PolicyVersion]
    at_risk: AtRiskRule = AtRiskRule()
    _starts: tuple[datetime, ...] = field(init=False, repr=False, compare=False)
    _calendars_for: dict[tuple[str, str, str | None], BusinessCalendar] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        """Validate and freeze the rules.

        Raises:
            SlaRulesError: naming the part that is wrong: a calendar filed under another name,
                a reference to an unknown calendar, no policy version, or two versions with the
                same number or the same ``effective_from``.
        """
        # Unless defined, the always-open calendar keeps Customer Service's time zone, so that
        # its deadlines read in the same local time.
        service = self.calendars.get(self.customer_service_calendar)
        zone = service.timezone if service is not None else "UTC"
        calendars = {ALWAYS_OPEN: BusinessCalendar.always_open(ALWAYS_OPEN, zone), **self.calendars}
        _check_calendar_names(calendars)
        object.__setattr__(self, "calendars", MappingProxyType(calendars))
        for name in ("department_calendars", "store_calendars"):
            mapping = dict(getattr(self, name))
            for owner, calendar in mapping.items():
                self._check_known(calendar, (name, owner))
            object.__setattr__(self, name, MappingProxyType(mapping))
        self._check_known(self.customer_service_calendar, ("customer_service_calendar",))
        policies = tuple(self.policies)
        _check_versions(policies)
        policies = tuple(sorted(policies, key=lambda policy: policy.effective_from))
        object.__setattr__(self, "policies", policies)
        object.__setattr__(self, "_starts", tuple(policy.effective_from for policy in policies))

    def calendar(self, name: str) -> BusinessCalendar:
        """The calendar of that name.

        Raises:
            SlaRulesError: no such calendar.
        """
        self._check_known(name, ())
        return self.calendars[name]

    def calendar_for(self, clock: str, department: str, store: str | None) -> BusinessCalendar:
        """The calendar a clock counts working minutes on: that of the party holding the ball.

        For the ownership clock ``department`` is the group holding the incident: its calendar
        is its department calendar (Customer Service's when it has none listed).

        Raises:
            SlaRulesError: an unknown clock.
        """
        key = (clock, department, store)
        found = self._calendars_for.get(key)
        if found is None:
            found = self._calendar_for(clock, department, store)
            if len(self._calendars_for) < 10_000:  # asked for every clock: kept, bounded
                self._calendars_for[key] = found
        return found

    def _calendar_for(self, clock: str, department: str, store: str | None) -> BusinessCalendar:
        if clock == "handover":
            return self._store_or(store if department == STORE_DEPARTMENT else None, department)
        if clock == "escalation_response":
            return self.calendars[ALWAYS_OPEN]
        if clock == "completion_report":
            return self._store_or(store, STORE_DEPARTMENT if store is not None else department)
        if clock == "resolution":
            return self.calendars[self.customer_service_calendar]
        if clock == "ownership":  # ``department`` is the group holding the incident
            return self.calendars[self._department_calendar(department)]
        raise SlaRulesError(_unknown_clock(clock))

    def policy_at(self, instant: datetime) -> PolicyVersion:
        """The policy version in force at ``instant``; before any took effect, the first one.

        Raises:
            SlaRulesError: a naive ``instant``.
        """
        if instant.utcoffset() is None:
            raise SlaRulesError(f"an aware datetime is required, not {instant.isoformat()}")
        return self.policies[max(bisect_right(self._starts, instant) - 1, 0)]

    def policy(self, version: int) -> PolicyVersion:
        """The policy version numbered ``version``.

        Raises:
            SlaRulesError: no such version.
        """
        for policy in self.policies:
            if policy.version == version:
                return policy
        known = ", ".join(str(policy.version) for policy in self.policies)
        raise SlaRulesError(f"unknown policy version {version} (versions: {known})")

    @property
    def current(self) -> PolicyVersion:
        """The version that took effect last."""
        return self.policies[-1]

    def _store_or(self, store: str | None, department: str) -> BusinessCalendar:
        name = self.store_calendars.get(store) if store is not None else None
        return self.calendars[name or self._department_calendar(department)]

    def _department_calendar(self, department: str) -> str:
        return self.department_calendars.get(department, self.customer_service_calendar)

    def _check_known(self, calendar: str, key: Key) -> None:
        if calendar not in self.calendars:
            known = ", ".join(sorted(self.calendars))
            raise SlaRulesError(f"unknown calendar {calendar!r} (calendars: {known})", key)


def default_rules() -> SlaRules:
    """The seed rules of DESIGN §1 and §4, in Moscow time with Russian public holidays."""
    office = {day: _hours("09:00", "18:00") for day in range(5)}
    store = {day: _hours("10:00", "22:00") for day in range(7)}
    calendars = [
        BusinessCalendar("customer_service", "Europe/Moscow", office, "RU"),
        BusinessCalendar("retail_store", "Europe/Moscow", store, "RU"),
        BusinessCalendar("office", "Europe/Moscow", office, "RU"),
        BusinessCalendar.always_open(ALWAYS_OPEN, "Europe/Moscow"),
    ]
    offices = ("call_centre", "document_management", "service_centre", "services", "other")
    return SlaRules(
        calendars={calendar.name: calendar for calendar in calendars},
        department_calendars={STORE_DEPARTMENT: "retail_store", **dict.fromkeys(offices, "office")},
        store_calendars={},
        customer_service_calendar="customer_service",
        policies=[PolicyVersion(1, datetime(2000, 1, 1, tzinfo=UTC), _DEFAULT_RULES)],
    )


_DEFAULT_RULES = (
    PolicyRule("handover", 180),
    PolicyRule("handover", 0, grace_minutes=15, channel="phone"),
    PolicyRule("escalation_response", 1440),
    PolicyRule("completion_report", 180),
    PolicyRule("resolution", 1080),
    PolicyRule("resolution", 720, priority="high"),
    PolicyRule("resolution", 540, priority="critical"),
    PolicyRule("ownership", OWNERSHIP_DEFAULT_MINUTES),
)


def _hours(opens: str, closes: str) -> Hours:
    return ((time.fromisoformat(opens), time.fromisoformat(closes)),)


def _check_calendar_names(calendars: Mapping[str, BusinessCalendar]) -> None:
    for name, calendar in calendars.items():
        if calendar.name != name:
            reason = f"the calendar filed here is named {calendar.name!r}"
            raise SlaRulesError(reason, ("calendars", name))


def _check_versions(policies: Sequence[PolicyVersion]) -> None:
    if not policies:
        raise SlaRulesError("at least one policy version is required", ("policies",))
    seen: dict[object, int] = {}
    for index, policy in enumerate(policies):
        for name in ("version", "effective_from"):
            value = getattr(policy, name)
            if (name, value) in seen:
                first = policies[seen[name, value]].version
                reason = f"same {name} as policy version {first}"
                raise SlaRulesError(reason, ("policies", index, name))
            seen[name, value] = index


def _dotted(key: Key) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in key).lstrip(".")
