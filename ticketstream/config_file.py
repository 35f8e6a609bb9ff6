"""The optional ticketstream.toml: business calendars and SLA policies over the defaults."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Strict,
    TypeAdapter,
    ValidationError,
)

from contracts.events import Label, Priority
from domain.calendar import BusinessCalendar, CalendarError, Hours, Interval
from domain.sla_rules import (
    AtRiskRule,
    Key,
    PolicyRule,
    PolicyVersion,
    SlaRules,
    SlaRulesError,
    default_rules,
)
from ticketstream.errors import TicketstreamError

DEFAULT_CONFIG_FILE = Path("ticketstream.toml")

_HH_MM = "([01][0-9]|2[0-3]):([0-5][0-9])"
_INTERVAL = re.compile(f"{_HH_MM}-(?:{_HH_MM}|(24):(00))")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_EXPECTED = {  # pydantic's words for these name our private models; say it in TOML terms
    "model_type": "should be a table",
    "dict_type": "should be a table",
    "list_type": "should be an array",
    "tuple_type": "should be an array",
    "string_type": "should be a string",
    "float_type": "should be a number",
    "int_type": "should be an integer",
    **dict.fromkeys(
        ("date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact"),
        "should be a date YYYY-MM-DD",
    ),
    **dict.fromkeys(
        ("datetime_type", "datetime_parsing", "datetime_from_date_parsing", "timezone_aware"),
        "should be a date-time with an offset, e.g. 2025-07-01T00:00:00+03:00",
    ),
}


class ConfigFileError(TicketstreamError, ValueError):
    """The config file cannot be read, is not TOML, or does not describe valid SLA rules."""


class _Problem(Exception):
    """What is wrong, and where in the document (before the file's name is known)."""

    def __init__(self, key: Key, reason: str) -> None:
        super().__init__(reason)
        self.key = key
        self.reason = reason


def load_sla_rules(path: Path | None) -> SlaRules:
    """The SLA rules of the config file at ``path``; every section it omits keeps its default.

    ``None``, or the default file name when no such file exists, gives ``default_rules()``.
    The tables ``[calendars]``, ``[departments]`` and ``[stores]`` add to the defaults or
    replace them entry by entry; ``[[policies]]``, when present, replaces the default policies.

    Raises:
        ConfigFileError: naming the file and the key path of the first mistake.
    """
    if path is None or (path == DEFAULT_CONFIG_FILE and not path.exists()):
        return default_rules()
    try:
        return _parse(_read(path))
    except _Problem as problem:
        where = f"{_toml_path(problem.key)}: " if problem.key else ""
        raise ConfigFileError(f"{path}: {where}{problem.reason}") from problem.__cause__


def _parse(document: Mapping[str, Any]) -> SlaRules:
    """The SLA rules a parsed TOML document describes, over the defaults.

    Raises:
        _Problem: the key path and reason of the first mistake.
    """
    try:
        spec = _Document.model_validate(document)
    except ValidationError as err:
        raise _validation_problem(err) from None
    return _rules(spec, default_rules())


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as err:
        raise _Problem((), f"cannot read: {err.strerror or err}") from err
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise _Problem((), f"invalid TOML: {err}") from err


# --- the document's structure ---------------------------------------------------------------


def _interval(text: object) -> Interval:
    """Parse ``"HH:MM-HH:MM"``; an end at or before the start crosses midnight, ``24:00`` is one."""
    match = _INTERVAL.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not HH:MM-HH:MM")
    opens = time(int(match[1]), int(match[2]))
    closes = time(0) if match[5] else time(int(match[3]), int(match[4]))
    if opens == closes and not match[5]:
        raise ValueError(f"{text!r} is empty (write 00:00-24:00 for a whole day)")
    return opens, closes


def _priority(value: str) -> str:
    """A priority of the wire contract: a selector with any other can never match."""
    priorities = get_args(Priority)
    if value not in priorities:
        raise ValueError(f"unknown priority {value!r} (priorities: {', '.join(priorities)})")
    return value


def _label(value: str) -> str:
    """A channel, category or department as the wire contract can carry it."""
    try:
        _CONTRACT_LABEL.validate_python(value)
    except ValidationError:
        limit = get_args(Label)[1].max_length
        raise ValueError(
            f"{value!r} can never match: the contract carries 1 to {limit} printable characters here"
        ) from None
    return value


_CONTRACT_LABEL: TypeAdapter[str] = TypeAdapter(Label)
_Interval = Annotated[tuple[time, time], BeforeValidator(_interval)]
_Label = Annotated[str, AfterValidator(_label)]
_Priority = Annotated[str, AfterValidator(_priority)]
_Date = Annotated[date, Strict(False)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Week(_Section):
    mon: list[_Interval] = []
    tue: list[_Interval] = []
    wed: list[_Interval] = []
    thu: list[_Interval] = []
    fri: list[_Interval] = []
    sat: list[_Interval] = []
    sun: list[_Interval] = []

    def hours(self) -> dict[int, Hours]:
        """Weekday (0 = Monday) → intervals, for the days that have any."""
        week = {day: tuple(getattr(self, name)) for day, name in enumerate(_WEEKDAYS)}
        return {day: hours for day, hours in week.items() if hours}


class _Calendar(_Section):
    timezone: str
    holidays: str | None = None
    holidays_subdivision: str | None = None
    hours: _Week = _Week()
    closed: list[_Date] = []
    open: dict[_Date, list[_Interval]] = {}


class _Sla(_Section):
    customer_service_calendar: str | None = None
    at_risk_share: float | None = None
    at_risk_minutes: float | None = None


class _Rule(_Section):
    clock: str
    target_minutes: float
    grace_minutes: float = 0.0
    department: _Label | None = None
    channel: _Label | None = None
    category: _Label | None = None
    priority: _Priority | None = None


class _Policy(_Section):
    version: int
    effective_from: Annotated[AwareDatetime, Strict(False)]
    rules: list[_Rule]


class _Document(_Section):
    sla: _Sla = _Sla()
    calendars: dict[str, _Calendar] = {}
    departments: dict[str, str] = {}
    stores: dict[str, str] = {}
    policies: list[_Policy] | None = None


# --- from the document to the domain --------------------------------------------------------


def _rules(spec: _Document, defaults: SlaRules) -> SlaRules:
    calendars = {name: _calendar(name, calendar) for name, calendar in spec.calendars.items()}
    policies = defaults.policies
    if spec.policies is not None:
        policies = tuple(_policy(index, policy) for index, policy in enumerate(spec.policies))
    with _located(()):
        return SlaRules(
            calendars={**defaults.calendars, **calendars},
            department_calendars={**defaults.department_calendars, **spec.departments},
            store_calendars={**defaults.store_calendars, **spec.stores},
            customer_service_calendar=_customer_service(spec.sla, defaults),
            policies=policies,
            at_risk=_at_risk(spec.sla, defaults.at_risk),
        )


def _calendar(name: str, spec: _Calendar) -> BusinessCalendar:
    with _located(("calendars", name)):
        return BusinessCalendar(
            name,
            spec.timezone,
            spec.hours.hours(),
            spec.holidays,
            spec.holidays_subdivision,
            frozenset(spec.closed),
            {day: tuple(hours) for day, hours in spec.open.items()},
        )


def _policy(index: int, spec: _Policy) -> PolicyVersion:
    rules = []
    for number, rule in enumerate(spec.rules):
        with _located(("policies", index, "rules", number)):
            rules.append(PolicyRule(**rule.model_dump()))
    with _located(("policies", index)):
        return PolicyVersion(spec.version, _stdlib_offset(spec.effective_from), tuple(rules))


def _stdlib_offset(moment: datetime) -> datetime:
    """The same instant and offset with a stdlib ``timezone`` in place of pydantic's ``TzInfo``."""
    return moment.replace(tzinfo=timezone(moment.utcoffset() or timedelta()))


def _customer_service(spec: _Sla, defaults: SlaRules) -> str:
    chosen = spec.customer_service_calendar
    return defaults.customer_service_calendar if chosen is None else chosen


def _at_risk(spec: _Sla, default: AtRiskRule) -> AtRiskRule:
    share = default.share if spec.at_risk_share is None else spec.at_risk_share
    minutes = default.minutes if spec.at_risk_minutes is None else spec.at_risk_minutes
    with _located(("at_risk",)):
        return AtRiskRule(share, minutes)


@contextmanager
def _located(prefix: Key) -> Iterator[None]:
    """Turn a domain error raised inside into a problem at its key path in the document."""
    try:
        yield
    except SlaRulesError as err:
        raise _Problem(_document_key(prefix + err.key), err.reason) from err
    except CalendarError as err:
        raise _Problem(_document_key(prefix), str(err)) from err


def _document_key(key: Key) -> Key:
    """Where a part of ``SlaRules`` (named by its field names) is written in the document."""
    match key:
        case ("at_risk", str(name), *rest):
            return ("sla", f"at_risk_{name}", *rest)
        case ("customer_service_calendar", *rest):
            return ("sla", "customer_service_calendar", *rest)
        case ("department_calendars", *rest):
            return ("departments", *rest)
        case ("store_calendars", *rest):
            return ("stores", *rest)
    return key


# --- messages -------------------------------------------------------------------------------


def _validation_problem(err: ValidationError) -> _Problem:
    first = err.errors(include_url=False)[0]
    key = tuple(part for part in first["loc"] if part != "[key]")
    return _Problem(key, _reason(first["type"], first["msg"], first.get("input"), first.get("ctx")))


def _reason(kind: str, message: str, value: object, context: dict[str, Any] | None) -> str:
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind == "value_error" and context:
        return str(context["error"])
    return f"{_EXPECTED.get(kind, message)}, not {_shown(value)}"


def _shown(value: object) -> str:
    if isinstance(value, (dict, list)):
        return "a table" if isinstance(value, dict) else "an array"
    return repr(value)


def _toml_path(key: Key) -> str:
    """A key path as TOML writes it: ``calendars."24/7".hours.mon[0]``."""
    parts = []
    for part in key:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            name = str(part)
            parts.append("." + (name if _BARE_KEY.fullmatch(name) else json.dumps(name)))
    return "".join(parts).lstrip(".")
