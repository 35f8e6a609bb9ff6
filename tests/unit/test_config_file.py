"""The ticketstream.toml config file: defaults, the example, overrides and one-line errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest

from domain.sla_rules import PolicyRule, default_rules
from ticketstream.config_file import DEFAULT_CONFIG_FILE, ConfigFileError, load_sla_rules
from ticketstream.errors import TicketstreamError

EXAMPLE = Path(__file__).parents[2] / "ticketstream.toml.example"
CATCH_ALL = """
  { clock = "handover", target_minutes = 180 },
  { clock = "escalation_response", target_minutes = 1440 },
  { clock = "completion_report", target_minutes = 180 },
"""
TWO_VERSIONS = f"""
[[policies]]
version = 1
effective_from = 2024-01-01T00:00:00Z
rules = [{CATCH_ALL} {{ clock = "resolution", target_minutes = 1080 }} ]

[[policies]]
version = 2
effective_from = "2025-07-01T00:00:00+03:00"
rules = [{CATCH_ALL} {{ clock = "resolution", target_minutes = 600 }} ]
"""
LATE_STORE = """
[calendars.retail_store_late]
timezone = "Europe/Moscow"
holidays = "RU"
hours = { fri = ["10:00-14:00", "15:00-02:00"], sat = ["10:00-24:00"] }
closed = ["2025-05-02", 2025-05-03]
open = { "2025-11-01" = ["10:00-15:00"] }

[stores]
"store-014" = "retail_store_late"
"""

WriteConfig = Callable[[str], Path]


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    """Write a ticketstream.toml with the given text and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "ticketstream.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


# --- defaults and the example ---------------------------------------------------------------


def test_no_file_gives_the_default_rules() -> None:
    assert load_sla_rules(None) == default_rules()


def test_a_missing_default_file_gives_the_default_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    assert load_sla_rules(DEFAULT_CONFIG_FILE) == default_rules()


def test_a_missing_file_named_explicitly_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "sla.toml"

    with pytest.raises(ConfigFileError, match=f"^{path}: cannot read: No such file"):
        load_sla_rules(path)


def test_the_example_file_describes_the_default_rules() -> None:
    loaded, defaults = load_sla_rules(EXAMPLE), default_rules()

    assert dict(loaded.calendars) == dict(defaults.calendars)
    assert loaded.department_calendars == defaults.department_calendars
    assert loaded.store_calendars == defaults.store_calendars
    assert loaded.customer_service_calendar == defaults.customer_service_calendar
    assert loaded.policies == defaults.policies
    assert loaded.at_risk == defaults.at_risk


def test_an_empty_file_gives_the_default_rules(write_config: WriteConfig) -> None:
    assert load_sla_rules(write_config("")) == default_rules()


# --- overriding the defaults ----------------------------------------------------------------


def test_a_file_with_only_policies_keeps_the_default_calendars(
    write_config: WriteConfig,
) -> None:
    loaded = load_sla_rules(write_config(TWO_VERSIONS))

    assert dict(loaded.calendars) == dict(default_rules().calendars)
    assert loaded.department_calendars == default_rules().department_calendars
    assert [policy.version for policy in loaded.policies] == [1, 2]


def test_a_clock_keeps_the_policy_version_in_force_when_it_started(
    write_config: WriteConfig,
) -> None:
    loaded = load_sla_rules(write_config(TWO_VERSIONS))
    before, after = datetime(2025, 6, 30, 20, 59, tzinfo=UTC), datetime(2025, 6, 30, 21, tzinfo=UTC)

    assert loaded.policy_at(before).version == 1
    assert loaded.policy_at(after).version == 2
    assert loaded.current.rule_for("resolution", "other", "email", None, "normal") == PolicyRule(
        "resolution", 600
    )


def test_a_store_may_have_a_calendar_of_its_own(write_config: WriteConfig) -> None:
    loaded = load_sla_rules(write_config(LATE_STORE))

    store = loaded.calendar_for("handover", "retail_store", "store-014")
    assert store.weekly_hours == {
        4: ((time(10), time(14)), (time(15), time(2))),
        5: ((time(10), time(0)),),
    }
    assert store.closed_days == {date(2025, 5, 2), date(2025, 5, 3)}
    assert store.open_days == {date(2025, 11, 1): ((time(10), time(15)),)}
    assert (store.timezone, store.holiday_country) == ("Europe/Moscow", "RU")
    assert loaded.calendar_for("handover", "retail_store", "store-015").name == "retail_store"


def test_the_sla_section_keeps_the_defaults_of_the_keys_it_omits(
    write_config: WriteConfig,
) -> None:
    loaded = load_sla_rules(write_config("[sla]\nat_risk_minutes = 45\n"))

    assert (loaded.at_risk.share, loaded.at_risk.minutes) == (0.2, 45)
    assert loaded.customer_service_calendar == "customer_service"


def test_a_department_can_be_moved_to_another_calendar(write_config: WriteConfig) -> None:
    loaded = load_sla_rules(write_config('[departments]\ncall_centre = "customer_service"\n'))

    assert loaded.department_calendars["call_centre"] == "customer_service"
    assert loaded.department_calendars["retail_store"] == "retail_store"


def test_a_file_written_before_the_ownership_clock_still_loads(write_config: WriteConfig) -> None:
    loaded = load_sla_rules(write_config(TWO_VERSIONS))

    for policy in loaded.policies:
        assert policy.rule_for("ownership", "billing", "email", None, "low").target_minutes == 1080


def test_an_ownership_rule_selects_the_holding_group(write_config: WriteConfig) -> None:
    rules = f'{CATCH_ALL} {{ clock = "resolution", target_minutes = 1080 }},'
    rules += ' { clock = "ownership", department = "tech_support", target_minutes = 480 }'

    loaded = load_sla_rules(write_config(ONE_POLICY.format(moment=EPOCH, rules=rules)))

    assert loaded.current.rule_for("ownership", "tech_support", "email", None, "low").target_minutes == 480
    assert loaded.current.rule_for("ownership", "services", "email", None, "low").target_minutes == 1080


# --- errors ---------------------------------------------------------------------------------

OFFICE = '[calendars.office]\ntimezone = "{zone}"\nhours = {{ mon = ["{hours}"] }}\n'
ONE_POLICY = """
[[policies]]
version = 1
effective_from = "{moment}"
rules = [{rules}]
"""


CALENDARS = "(calendars: 24/7, customer_service, office, retail_store)"
CLOCK_NAMES = "(clocks: handover, escalation_response, completion_report, resolution, ownership)"
MONDAY = 'timezone = "UTC"\nhours = { mon = ["09:00-18:00"] }\n'
EPOCH = "2000-01-01T00:00:00Z"
MISTAKES = [
    pytest.param(
        "[sla]\nat_risk_shares = 0.1\n", "sla.at_risk_shares: unknown key", id="unknown key"
    ),
    pytest.param("[calendar.office]\n", "calendar: unknown key", id="unknown section"),
    pytest.param(
        '[sla]\nat_risk_minutes = "half an hour"\n',
        "sla.at_risk_minutes: should be a number, not 'half an hour'",
        id="not a number",
    ),
    pytest.param(
        '[calendars]\noffice = "09:00-18:00"\n',
        "calendars.office: should be a table, not '09:00-18:00'",
        id="not a table",
    ),
    pytest.param(
        '[departments]\nother = ["office"]\n',
        "departments.other: should be a string, not an array",
        id="not a string",
    ),
    pytest.param(
        OFFICE.format(zone="Europe/Moscow", hours="9-18"),
        "calendars.office.hours.mon[0]: '9-18' is not HH:MM-HH:MM",
        id="not HH:MM-HH:MM",
    ),
    pytest.param(
        OFFICE.format(zone="Europe/Moscow", hours="09:00-25:00"),
        "calendars.office.hours.mon[0]: '09:00-25:00' is not HH:MM-HH:MM",
        id="hour 25",
    ),
    pytest.param(
        OFFICE.format(zone="Europe/Moscow", hours="09:00-09:00"),
        "calendars.office.hours.mon[0]: '09:00-09:00' is empty (write 00:00-24:00 for a whole day)",
        id="empty interval",
    ),
    pytest.param(
        '[calendars.office]\ntimezone = "UTC"\nhours = { monday = [] }\n',
        "calendars.office.hours.monday: unknown key",
        id="unknown weekday",
    ),
    pytest.param(
        '[calendars.office]\nhours = { mon = ["09:00-18:00"] }\n',
        "calendars.office.timezone: required key is missing",
        id="no time zone",
    ),
    pytest.param(
        OFFICE.format(zone="Mars/Olympus", hours="09:00-18:00"),
        "calendars.office: calendar office has an unknown time zone 'Mars/Olympus'",
        id="unknown time zone",
    ),
    pytest.param(
        '[calendars."24/7"]\ntimezone = "UTC"\n',
        'calendars."24/7": calendar 24/7 has no working time',
        id="no working time",
    ),
    pytest.param(
        f'[calendars.office]\n{MONDAY}holidays = "XX"\n',
        "calendars.office: calendar office: Country XX not available",
        id="unknown country",
    ),
    pytest.param(
        f'[calendars.office]\n{MONDAY}closed = ["May 2"]\n',
        "calendars.office.closed[0]: should be a date YYYY-MM-DD, not 'May 2'",
        id="not a date",
    ),
    pytest.param(
        '[departments]\nretail_store = "shop"\n',
        f"departments.retail_store: unknown calendar 'shop' {CALENDARS}",
        id="unknown department calendar",
    ),
    pytest.param(
        '[stores]\n"store-014" = "late"\n',
        f"stores.store-014: unknown calendar 'late' {CALENDARS}",
        id="unknown store calendar",
    ),
    pytest.param(
        '[sla]\ncustomer_service_calendar = "cs"\n',
        f"sla.customer_service_calendar: unknown calendar 'cs' {CALENDARS}",
        id="unknown customer service calendar",
    ),
    pytest.param(
        "[sla]\nat_risk_share = 20\n",
        "sla.at_risk_share: must be between 0 and 1, not 20.0",
        id="share above one",
    ),
    pytest.param(
        ONE_POLICY.format(moment=EPOCH, rules='{ clock = "handoff", target_minutes = 1 }'),
        f"policies[0].rules[0].clock: unknown clock 'handoff' {CLOCK_NAMES}",
        id="unknown clock",
    ),
    pytest.param(
        ONE_POLICY.format(
            moment=EPOCH, rules='{ clock = "resolution", priority = "moderate", target_minutes = 1 }'
        ),
        "policies[0].rules[0].priority: unknown priority 'moderate'"
        " (priorities: low, normal, high, critical)",
        id="unknown priority",
    ),
    pytest.param(
        ONE_POLICY.format(
            moment=EPOCH, rules='{ clock = "resolution", priority = "High", target_minutes = 1 }'
        ),
        "policies[0].rules[0].priority: unknown priority 'High'"
        " (priorities: low, normal, high, critical)",
        id="priority in capitals",
    ),
    pytest.param(
        ONE_POLICY.format(moment=EPOCH, rules='{ clock = "handover", channel = "", target_minutes = 1 }'),
        "policies[0].rules[0].channel: '' can never match: the contract carries 1 to 64 printable"
        " characters here",
        id="empty channel",
    ),
    pytest.param(
        ONE_POLICY.format(
            moment=EPOCH, rules='{ clock = "handover", category = "late\\u001b[2J", target_minutes = 1 }'
        ),
        "policies[0].rules[0].category: 'late\\x1b[2J' can never match: the contract carries 1 to 64"
        " printable characters here",
        id="control character in a category",
    ),
    pytest.param(
        ONE_POLICY.format(
            moment=EPOCH, rules=f'{{ clock = "ownership", department = "{"x" * 65}", target_minutes = 1 }}'
        ),
        f"policies[0].rules[0].department: '{'x' * 65}' can never match:"
        " the contract carries 1 to 64 printable characters here",
        id="department too long",
    ),
    pytest.param(
        ONE_POLICY.format(moment=EPOCH, rules='{ clock = "owner", target_minutes = 1 }'),
        f"policies[0].rules[0].clock: unknown clock 'owner' {CLOCK_NAMES}",
        id="unknown clock near ownership",
    ),
    pytest.param(
        ONE_POLICY.format(moment=EPOCH, rules='{ clock = "handover", target_minutes = -1 }'),
        "policies[0].rules[0].target_minutes: must be a finite number >= 0, not -1.0",
        id="negative target",
    ),
    pytest.param(
        ONE_POLICY.format(moment=EPOCH, rules='{ clock = "handover" }'),
        "policies[0].rules[0].target_minutes: required key is missing",
        id="no target",
    ),
    pytest.param(
        ONE_POLICY.format(moment=EPOCH, rules=CATCH_ALL),
        "policies[0].rules: no catch-all rule for clock 'resolution'"
        " (one with no department, channel, category or priority)",
        id="no catch-all rule",
    ),
    pytest.param(
        ONE_POLICY.format(moment="2000-01-01T00:00:00", rules=CATCH_ALL),
        "policies[0].effective_from: should be a date-time with an offset,"
        " e.g. 2025-07-01T00:00:00+03:00, not '2000-01-01T00:00:00'",
        id="naive effective_from",
    ),
    pytest.param(
        "policies = []\n",
        "policies: at least one policy version is required",
        id="no policy",
    ),
    pytest.param(
        TWO_VERSIONS.replace("version = 2", "version = 1"),
        "policies[1].version: same version as policy version 1",
        id="duplicate version",
    ),
]


def test_a_syntax_error_names_the_file_and_the_line(write_config: WriteConfig) -> None:
    path = write_config("[sla]\nat_risk_share = \n")

    with pytest.raises(ConfigFileError) as caught:
        load_sla_rules(path)

    assert str(caught.value).startswith(f"{path}: invalid TOML: ")
    assert "line 2" in str(caught.value)


@pytest.mark.parametrize(("text", "message"), MISTAKES)
def test_each_mistake_is_one_line_naming_the_file_and_the_key(
    write_config: WriteConfig, text: str, message: str
) -> None:
    path = write_config(text)

    with pytest.raises(ConfigFileError) as caught:
        load_sla_rules(path)

    assert str(caught.value) == f"{path}: {message}"


def test_a_config_file_error_is_a_user_error_and_a_value_error(
    write_config: WriteConfig,
) -> None:
    with pytest.raises(ConfigFileError) as caught:
        load_sla_rules(write_config("[sla]\nat_risk_share = 2\n"))

    assert isinstance(caught.value, TicketstreamError)
    assert isinstance(caught.value, ValueError)
