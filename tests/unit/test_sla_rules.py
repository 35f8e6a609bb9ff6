"""SLA rules: the default calendars and targets, rule specificity, policy versions, validation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.calendar import BusinessCalendar
from domain.sla_rules import (
    CLOCKS,
    AtRiskRule,
    PolicyRule,
    PolicyVersion,
    SlaRules,
    SlaRulesError,
    default_rules,
)

MOSCOW = ZoneInfo("Europe/Moscow")
CATCH_ALL = tuple(PolicyRule(clock, 60) for clock in CLOCKS)
LATE_STORE = BusinessCalendar(
    "retail_store_late", "Europe/Moscow", {day: ((time(10), time(2)),) for day in range(7)}
)


def version(number: int, effective_from: datetime, *rules: PolicyRule) -> PolicyVersion:
    """A policy version of one-hour catch-all targets, followed by ``rules``."""
    return PolicyVersion(number, effective_from, CATCH_ALL + rules)


def rules(**overrides: object) -> SlaRules:
    """The default rules with a late store calendar for store-014, and some fields replaced."""
    defaults = default_rules()
    definition: dict[str, object] = {
        "calendars": {**defaults.calendars, LATE_STORE.name: LATE_STORE},
        "department_calendars": defaults.department_calendars,
        "store_calendars": {"store-014": LATE_STORE.name},
        "customer_service_calendar": defaults.customer_service_calendar,
        "policies": defaults.policies,
    }
    return SlaRules(**(definition | overrides))  # type: ignore[arg-type]


def target(
    clock: str,
    department: str = "call_centre",
    channel: str = "email",
    category: str | None = "product_quality",
    priority: str = "normal",
) -> PolicyRule:
    """The default rule for an incident with these attributes."""
    return default_rules().current.rule_for(clock, department, channel, category, priority)


# --- the defaults of DESIGN §1 and §4 -------------------------------------------------------


def test_a_phone_call_is_handed_over_immediately_with_fifteen_minutes_of_grace() -> None:
    rule = target("handover", channel="phone")

    assert (rule.target_minutes, rule.grace_minutes) == (0, 15)


@pytest.mark.parametrize("department", ["retail_store", "call_centre", "services", "other"])
def test_other_handovers_take_three_working_hours_without_grace(department: str) -> None:
    rule = target("handover", department=department, channel="email")

    assert (rule.target_minutes, rule.grace_minutes) == (180, 0)


def test_escalations_are_answered_in_24_hours_and_completion_reported_in_three() -> None:
    assert target("escalation_response").target_minutes == 1440
    assert target("completion_report", department="retail_store").target_minutes == 180


@pytest.mark.parametrize(
    ("priority", "minutes"), [("low", 1080), ("normal", 1080), ("high", 720), ("critical", 540)]
)
def test_resolution_takes_two_working_days_unless_the_priority_is_high(
    priority: str, minutes: float
) -> None:
    assert target("resolution", priority=priority).target_minutes == minutes


def test_the_store_calendar_is_open_ten_to_twenty_two_every_day() -> None:
    store = default_rules().calendar("retail_store")
    sunday = datetime(2025, 6, 15, tzinfo=MOSCOW)

    assert store.weekly_hours == {day: ((time(10), time(22)),) for day in range(7)}
    assert store.working_minutes(sunday, sunday.replace(day=16)) == 720
    assert store.is_working(sunday.replace(hour=21, minute=59))
    assert not store.is_working(sunday.replace(hour=22))


@pytest.mark.parametrize("name", ["customer_service", "office"])
def test_offices_work_nine_to_six_on_weekdays_but_not_on_russian_holidays(name: str) -> None:
    calendar = default_rules().calendar(name)
    monday, new_year = datetime(2025, 6, 16, tzinfo=MOSCOW), datetime(2025, 1, 1, tzinfo=MOSCOW)

    assert calendar.working_minutes(monday, monday.replace(day=23)) == 5 * 540
    assert calendar.working_minutes(new_year, new_year.replace(day=2)) == 0


def test_stores_work_on_the_store_calendar_and_other_departments_on_office_hours() -> None:
    defaults = default_rules()

    assert defaults.department_calendars == {
        "retail_store": "retail_store", "call_centre": "office", "document_management": "office",
        "service_centre": "office", "services": "office", "other": "office",
    }  # fmt: skip
    assert defaults.customer_service_calendar == "customer_service"
    assert defaults.at_risk == AtRiskRule(0.2, 30)


# --- which calendar a clock counts on -------------------------------------------------------


@pytest.mark.parametrize(
    ("clock", "department", "store", "calendar"),
    [
        ("handover", "retail_store", "store-014", "retail_store_late"),
        ("handover", "retail_store", "store-999", "retail_store"),
        ("handover", "retail_store", None, "retail_store"),
        ("handover", "call_centre", "store-014", "office"),
        ("handover", "marketing", None, "customer_service"),
        ("escalation_response", "retail_store", "store-014", "24/7"),
        ("completion_report", "retail_store", "store-014", "retail_store_late"),
        ("completion_report", "call_centre", "store-999", "retail_store"),
        ("completion_report", "service_centre", None, "office"),
        ("resolution", "retail_store", "store-014", "customer_service"),
        ("ownership", "retail_store", "store-014", "retail_store"),
        ("ownership", "call_centre", None, "office"),
        ("ownership", "tech_support", None, "customer_service"),
    ],
)
def test_each_clock_counts_on_the_calendar_of_the_party_holding_the_ball(
    clock: str, department: str, store: str | None, calendar: str
) -> None:
    assert rules().calendar_for(clock, department, store).name == calendar


def test_the_escalation_calendar_is_open_around_the_clock() -> None:
    calendar = rules().calendar_for("escalation_response", "call_centre", None)

    assert calendar == BusinessCalendar.always_open("24/7", "Europe/Moscow")


def test_the_24_7_calendar_exists_even_when_not_defined() -> None:
    calendars = {name: c for name, c in rules().calendars.items() if name != "24/7"}

    # In Customer Service's time zone, so that its deadlines read in the same local time.
    assert rules(calendars=calendars).calendar("24/7") == BusinessCalendar.always_open(
        "24/7", "Europe/Moscow"
    )


def test_an_unknown_clock_or_calendar_is_refused() -> None:
    with pytest.raises(SlaRulesError, match="unknown clock 'handoff'"):
        rules().calendar_for("handoff", "call_centre", None)
    with pytest.raises(SlaRulesError, match="unknown calendar 'night_shift'"):
        rules().calendar("night_shift")


# --- rule specificity -----------------------------------------------------------------------


def test_the_rule_with_the_most_matching_selectors_wins() -> None:
    policy = version(
        1, datetime(2000, 1, 1, tzinfo=UTC),
        PolicyRule("resolution", 30, department="call_centre", channel="phone", priority="high"),
        PolicyRule("resolution", 20, priority="high"),
        PolicyRule("resolution", 10, department="call_centre", channel="phone"),
    )  # fmt: skip

    assert policy.rule_for("resolution", "call_centre", "phone", None, "high").target_minutes == 30
    assert policy.rule_for("resolution", "call_centre", "phone", None, "low").target_minutes == 10
    assert policy.rule_for("resolution", "services", "phone", None, "high").target_minutes == 20
    assert policy.rule_for("resolution", "services", "email", None, "low").target_minutes == 60


def test_among_equally_specific_rules_the_later_one_wins() -> None:
    policy = version(
        1, datetime(2000, 1, 1, tzinfo=UTC),
        PolicyRule("handover", 10, channel="chat"),
        PolicyRule("handover", 20, department="call_centre"),
    )  # fmt: skip

    assert policy.rule_for("handover", "call_centre", "chat", None, "normal").target_minutes == 20


def test_a_category_rule_does_not_match_an_incident_without_a_category() -> None:
    policy = version(1, datetime(2000, 1, 1, tzinfo=UTC), PolicyRule("resolution", 5, category="x"))

    assert policy.rule_for("resolution", "other", "email", None, "normal").target_minutes == 60
    assert policy.rule_for("resolution", "other", "email", "x", "normal").target_minutes == 5


def test_a_clock_without_rules_has_no_target() -> None:
    with pytest.raises(SlaRulesError, match="no rule for clock 'handoff'"):
        default_rules().current.rule_for("handoff", "other", "email", None, "normal")


selectors = st.sampled_from([None, "a", "b"])
policy_rules = st.builds(
    PolicyRule, clock=st.just("resolution"), target_minutes=st.integers(0, 100),
    department=selectors, channel=selectors, category=selectors, priority=selectors,
)  # fmt: skip


@given(st.lists(policy_rules, max_size=8), st.tuples(*[st.sampled_from(["a", "b"])] * 4))
def test_no_matching_rule_is_more_specific_than_the_chosen_one(
    extra: list[PolicyRule], incident: tuple[str, str, str, str]
) -> None:
    policy = version(1, datetime(2000, 1, 1, tzinfo=UTC), *extra)

    chosen = policy.rule_for("resolution", *incident)

    matching = [r for r in policy.rules if r.clock == "resolution" and r.matches(*incident)]
    assert chosen in matching
    assert all(rule.specificity <= chosen.specificity for rule in matching)


# --- policy versions ------------------------------------------------------------------------

CHANGE = datetime(2025, 7, 1, tzinfo=MOSCOW)
VERSIONS = (
    version(2, CHANGE, PolicyRule("resolution", 600)),
    version(1, datetime(2024, 1, 1, tzinfo=UTC), PolicyRule("resolution", 1080)),
)


def test_a_clock_started_before_a_policy_change_keeps_the_old_version() -> None:
    versioned = rules(policies=VERSIONS)
    before, after = datetime(2025, 6, 30, 23, 59, tzinfo=MOSCOW), CHANGE

    assert versioned.policy_at(before).version == 1
    assert versioned.policy_at(after).version == 2
    old = versioned.policy_at(before).rule_for("resolution", "other", "email", None, "normal")
    assert old.target_minutes == 1080


def test_an_instant_before_every_version_falls_under_the_first() -> None:
    assert rules(policies=VERSIONS).policy_at(datetime(1999, 1, 1, tzinfo=UTC)).version == 1


def test_the_current_version_is_the_one_that_took_effect_last() -> None:
    versioned = rules(policies=VERSIONS)

    assert versioned.current.version == 2
    assert [policy.version for policy in versioned.policies] == [1, 2]


def test_a_version_is_found_by_its_number() -> None:
    versioned = rules(policies=VERSIONS)

    assert versioned.policy(1).effective_from == datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(SlaRulesError, match=r"unknown policy version 3 \(versions: 1, 2\)"):
        versioned.policy(3)


def test_a_naive_instant_has_no_policy() -> None:
    with pytest.raises(SlaRulesError, match="aware datetime"):
        default_rules().policy_at(datetime(2025, 1, 1))


# --- validation -----------------------------------------------------------------------------


def test_a_reference_to_an_unknown_calendar_names_who_refers_to_it() -> None:
    with pytest.raises(SlaRulesError) as caught:
        rules(department_calendars={"call_centre": "night_shift"})

    assert caught.value.key == ("department_calendars", "call_centre")
    assert str(caught.value).startswith("department_calendars.call_centre: unknown calendar")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"store_calendars": {"store-1": "x"}}, "store_calendars.store-1: unknown calendar 'x'"),
        ({"customer_service_calendar": "cs"}, "customer_service_calendar: unknown calendar 'cs'"),
        ({"calendars": {"cs": LATE_STORE}}, "calendars.cs: the calendar filed here is named"),
        ({"policies": []}, "policies: at least one policy version is required"),
        (
            {"policies": [version(1, CHANGE), version(1, datetime(2024, 1, 1, tzinfo=UTC))]},
            r"policies\[1\].version: same version as policy version 1",
        ),
        (
            {"policies": [version(1, CHANGE), version(2, CHANGE.astimezone(UTC))]},
            r"policies\[1\].effective_from: same effective_from as policy version 1",
        ),
    ],
)
def test_inconsistent_rules_are_refused_naming_the_part_at_fault(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(SlaRulesError, match=message):
        rules(**overrides)


def test_a_version_without_ownership_rules_holds_each_stretch_to_two_working_days() -> None:
    before_ownership = tuple(rule for rule in CATCH_ALL if rule.clock != "ownership")

    policy = PolicyVersion(1, CHANGE, before_ownership)

    assert policy.rule_for("ownership", "tech_support", "email", None, "high").target_minutes == 1080
    assert default_rules().current.rule_for("ownership", "other", "email", None, "low").target_minutes == 1080


def test_a_version_with_ownership_rules_for_some_groups_holds_the_others_to_the_default() -> None:
    only_tech = tuple(rule for rule in CATCH_ALL if rule.clock != "ownership") + (
        PolicyRule("ownership", 240, department="tech_support"),
    )

    policy = PolicyVersion(1, CHANGE, only_tech)

    assert policy.rule_for("ownership", "tech_support", "email", None, "low").target_minutes == 240
    assert policy.rule_for("ownership", "billing", "email", None, "low").target_minutes == 1080


def test_a_version_with_its_own_ownership_catch_all_gets_no_other() -> None:
    policy = PolicyVersion(1, CHANGE, CATCH_ALL)

    assert [rule for rule in policy.rules if rule.clock == "ownership"] == [PolicyRule("ownership", 60)]


def test_every_version_needs_a_catch_all_rule_for_every_clock() -> None:
    others = tuple(rule for rule in CATCH_ALL if rule.clock != "resolution")
    only_specific = others + (PolicyRule("resolution", 60, priority="high"),)

    with pytest.raises(SlaRulesError, match="rules: no catch-all rule for clock 'resolution'"):
        PolicyVersion(1, CHANGE, only_specific)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: PolicyRule("handoff", 60), "clock: unknown clock 'handoff'"),
        (lambda: PolicyRule("handover", -1), "target_minutes: must be a finite number >= 0"),
        (lambda: PolicyRule("handover", 0, float("nan")), "grace_minutes: must be a finite"),
        (lambda: PolicyVersion(1, datetime(2025, 1, 1), CATCH_ALL), "effective_from: must have"),
        (lambda: AtRiskRule(share=1.5), "share: must be between 0 and 1"),
        (lambda: AtRiskRule(minutes=-5), "minutes: must be a finite number >= 0"),
    ],
)
def test_a_malformed_rule_is_refused_naming_its_field(make: object, message: str) -> None:
    with pytest.raises(SlaRulesError, match=message):
        make()  # type: ignore[operator]


def test_rules_are_values() -> None:
    assert default_rules() == default_rules()
    assert replace(default_rules(), at_risk=AtRiskRule(0.1)) != default_rules()


def test_stores_work_ten_to_ten_every_day_but_not_on_russian_holidays() -> None:
    calendar = default_rules().calendar("retail_store")
    monday, new_year = datetime(2025, 6, 16, tzinfo=MOSCOW), datetime(2025, 1, 1, tzinfo=MOSCOW)

    assert calendar.working_minutes(monday, monday.replace(day=23)) == 7 * 720
    assert calendar.working_minutes(new_year, new_year.replace(day=2)) == 0


def test_the_default_escalation_calendar_is_open_around_the_clock_in_moscow_time() -> None:
    assert default_rules().calendar("24/7") == BusinessCalendar.always_open("24/7", "Europe/Moscow")


def test_the_default_policy_is_version_1_in_force_since_2000() -> None:
    [policy] = default_rules().policies

    assert (policy.version, policy.effective_from) == (1, datetime(2000, 1, 1, tzinfo=UTC))


def test_an_at_risk_share_may_be_0_or_1() -> None:
    assert AtRiskRule(0, 30).share == 0
    assert AtRiskRule(1, 30).share == 1


def test_the_messages_of_an_unknown_clock_or_calendar_list_the_known_ones() -> None:
    with pytest.raises(SlaRulesError) as clock:
        PolicyRule("handoff", 60)
    with pytest.raises(SlaRulesError) as calendar:
        default_rules().calendar("night_shift")

    assert str(clock.value) == (
        "clock: unknown clock 'handoff' (clocks: handover, escalation_response, completion_report,"
        " resolution, ownership)"
    )
    assert str(calendar.value) == (
        "unknown calendar 'night_shift' (calendars: 24/7, customer_service, office, retail_store)"
    )


def test_an_error_without_a_key_is_only_its_reason() -> None:
    error = SlaRulesError("something is wrong")

    assert (str(error), error.reason, error.key) == ("something is wrong", "something is wrong", ())
    assert str(SlaRulesError("bad", ("policies", 0, "rules"))) == "policies[0].rules: bad"
