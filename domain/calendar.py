"""Business calendars: weekly hours, holidays and working-time arithmetic in a local time zone."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo

import holidays

Interval = tuple[time, time]
Hours = tuple[Interval, ...]
Span = tuple[datetime, datetime]

_ONE_DAY = timedelta(days=1)
_GROWTH = timedelta(days=366)
_MICROSECOND = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST_DAY, _LAST_DAY = date(1, 1, 3), date(9999, 12, 29)  # room for time zones at the edges
_HORIZON = timedelta(days=3 * 366)
_MIDNIGHT_TO_MIDNIGHT: Hours = ((time(0), time(0)),)


class CalendarError(ValueError):
    """A calendar is malformed, or an argument cannot be measured on it."""


@dataclass(frozen=True)
class BusinessCalendar:
    """The working time of a department or store, in its own time zone.

    ``weekly_hours`` maps a weekday (0 = Monday) to local intervals ``(start, end)``; an end at
    or before the start crosses midnight (``end == start`` is a full 24 hours), and the interval
    belongs to the day it starts on. Holidays and ``closed_days`` close a whole local date,
    except for an interval begun the day before; ``open_days`` override everything for a date.
    Wall-clock times become instants per date: a skipped time (spring forward) means the first
    instant after the gap, an ambiguous one (fall back) its first occurrence (``fold=0``).
    Intervals are half-open, ``[start, end)``.
    """

    name: str
    timezone: str
    weekly_hours: Mapping[int, Hours]
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    closed_days: frozenset[date] = frozenset()
    open_days: Mapping[date, Hours] = field(default_factory=dict)
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _spans: dict[date, tuple[Span, ...]] = field(init=False, repr=False, compare=False)
    _timeline: _Timeline = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Validate and freeze the definition.

        Raises:
            CalendarError: unknown zone, country or subdivision, a malformed interval or
                weekday, or no working time at all.
        """
        weekly = {day: _checked(self.name, hours) for day, hours in self.weekly_hours.items()}
        if not set(weekly) <= set(range(7)):
            raise CalendarError(f"calendar {self.name} has weekdays outside 0..6: {sorted(weekly)}")
        extra = {day: _checked(self.name, hours) for day, hours in self.open_days.items()}
        if not any(weekly.values()) and not any(extra.values()):
            raise CalendarError(f"calendar {self.name} has no working time")
        object.__setattr__(self, "weekly_hours", MappingProxyType(weekly))
        object.__setattr__(self, "open_days", MappingProxyType(extra))
        object.__setattr__(self, "closed_days", frozenset(self.closed_days))
        object.__setattr__(self, "_zone", _zone_named(self.name, self.timezone))
        object.__setattr__(self, "_spans", {})
        object.__setattr__(self, "_timeline", _Timeline(self))
        _check_holidays(self.name, self.holiday_country, self.holiday_subdivision)

    def __hash__(self) -> int:
        return hash((self.name, self.timezone))

    @classmethod
    def always_open(cls, name: str = "24/7", timezone: str = "UTC") -> BusinessCalendar:
        """A calendar open around the clock, every day (the escalation clock's)."""
        return cls(name, timezone, {day: _MIDNIGHT_TO_MIDNIGHT for day in range(7)})

    def working_minutes(self, start: datetime, end: datetime) -> float:
        """Working minutes in ``[start, end)``; 0 when ``end <= start``.

        Raises:
            CalendarError: a naive datetime.
        """
        # Integer microseconds divided as timedelta.total_seconds() does, then by 60.
        return self.working_microseconds(start, end) / 1_000_000 / 60

    def working_microseconds(self, start: datetime, end: datetime) -> int:
        """Working microseconds in ``[start, end)``; 0 when ``end <= start`` (exact: sums of
        them are the working time of the spans together).

        Raises:
            CalendarError: a naive datetime.
        """
        start, end = _utc(start), _utc(end)
        if end <= start:
            return 0
        return self._timeline.working_between(_micros(start), _micros(end))

    def add_working_minutes(self, start: datetime, minutes: float) -> datetime:
        """The earliest instant (UTC) by which ``minutes`` of working time pass from ``start``.

        Zero minutes is due at ``start`` itself, even in closed time: nothing has to elapse.
        A positive target from closed time counts from the next opening, and its result may be
        a closing instant (exactly when the last working minute ends).

        Raises:
            CalendarError: a naive datetime, a negative or non-finite target, or three years
                without any working time.
        """
        if not math.isfinite(minutes) or minutes < 0:
            raise CalendarError(f"working minutes must be finite and >= 0, not {minutes}")
        start, amount = _utc(start), _microseconds_of(minutes)
        if not amount:
            return start
        return _EPOCH + timedelta(microseconds=self._timeline.after(_micros(start), amount))

    def is_working(self, instant: datetime) -> bool:
        """Whether ``instant`` falls inside working time.

        Raises:
            CalendarError: a naive datetime.
        """
        instant = _utc(instant)
        first = next(self._pieces(instant, self._local_date(instant)), None)
        return first is not None and first[0] == instant

    def working_intervals(self, start: datetime, end: datetime) -> list[Span]:
        """The working intervals (UTC) within ``[start, end)``, clipped to it and merged.

        Raises:
            CalendarError: a naive datetime.
        """
        merged: list[Span] = []
        for s, e in self._pieces_until(_utc(start), _utc(end)):
            if merged and merged[-1][1] == s:
                merged[-1] = (merged[-1][0], e)
            else:
                merged.append((s, e))
        return merged

    def closure(self, day: date) -> str | None:
        """Why local ``day`` is closed all day ("public holiday", "closed day"), if it is."""
        if day in self.open_days:
            return None
        if day in self.closed_days:
            return "closed day"
        return "public holiday" if self._is_holiday(day) else None

    def _pieces_until(self, start: datetime, end: datetime) -> Iterator[Span]:
        for s, e in self._pieces(start, self._local_date(end)):
            if s >= end:
                return
            yield s, min(e, end)

    def _pieces(self, start: datetime, last_day: date | None = None) -> Iterator[Span]:
        """Disjoint working pieces (UTC, ascending) from ``start`` through ``last_day``'s intervals.

        Raises:
            CalendarError: unbounded, and three years pass without working time.
        """
        edge = start
        day = quiet_since = self._local_date(start) - _ONE_DAY
        while last_day is None or day <= last_day:
            for s, e in self._day_spans(day):
                if e > edge:
                    yield max(s, edge), e
                    edge, quiet_since = e, day
            if last_day is None and day - quiet_since > _HORIZON:
                raise CalendarError(f"calendar {self.name} has no working time for three years")
            day += _ONE_DAY

    def _day_spans(self, day: date) -> tuple[Span, ...]:
        """The instants of the intervals that begin on local ``day``, by start."""
        spans = self._spans.get(day)
        if spans is None:
            instants = sorted(self._span(day, interval) for interval in self._hours(day))
            spans = self._spans[day] = tuple((s, e) for s, e in instants if e > s)
        return spans

    def _hours(self, day: date) -> Hours:
        if day in self.open_days:
            return self.open_days[day]
        if day in self.closed_days or self._is_holiday(day):
            return ()
        return self.weekly_hours.get(day.weekday(), ())

    def _is_holiday(self, day: date) -> bool:
        if self.holiday_country is None:
            return False
        return day in _holidays(self.holiday_country, self.holiday_subdivision, day.year)

    def _span(self, day: date, interval: Interval) -> Span:
        opens, closes = interval
        closing_day = day if closes > opens else day + _ONE_DAY
        return (
            _instant(datetime.combine(day, opens), self._zone),
            _instant(datetime.combine(closing_day, closes), self._zone),
        )

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self._zone).date()


class _Timeline:
    """A calendar's working pieces over a range of local days, in integer microseconds since
    the epoch, with the working time accumulated before each: measuring working time and
    adding it become two bisections. The range grows by a year whenever a question needs it.
    """

    def __init__(self, calendar: BusinessCalendar) -> None:
        self._calendar = calendar
        self._days: tuple[date, date] | None = None  # the local days covered
        self._lo = self._hi = 0  # the instants covered, [lo, hi]
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._before: list[int] = []  # working time before each piece
        self._through: list[int] = []  # working time up to each piece's end

    def working_between(self, start: int, end: int) -> int:
        """Working microseconds in ``[start, end)``, ``start < end``."""
        self._cover(start, end)
        return self._accumulated(end) - self._accumulated(start)

    def after(self, start: int, amount: int) -> int:
        """The first instant by which ``amount > 0`` working microseconds pass from ``start``.

        Raises:
            CalendarError: three years pass without working time.
        """
        self._cover(start, start)
        while True:
            # Accumulated time counts from the timeline's first day: compute it after growing.
            target = self._accumulated(start) + amount
            if self._through and self._through[-1] >= target:
                break
            worked_until = self._ends[-1] if self._ends else start
            if self._hi - max(worked_until, start) > _HORIZON // _MICROSECOND:
                name = self._calendar.name
                raise CalendarError(f"calendar {name} has no working time for three years")
            self._cover(start, self._hi + _GROWTH // _MICROSECOND)
        index = bisect_left(self._through, target)
        return self._starts[index] + target - self._before[index]

    def _accumulated(self, instant: int) -> int:
        index = bisect_right(self._starts, instant) - 1
        if index < 0:
            return 0
        return self._before[index] + min(instant, self._ends[index]) - self._starts[index]

    def _cover(self, start: int, end: int) -> None:
        if self._days is not None and self._lo <= start and end <= self._hi:
            return
        first, last = self._local_day(start), self._local_day(end)
        # A year of margin on each side that grows, none on a side already covered.
        if self._days is None or first < self._days[0]:
            first -= _GROWTH
        else:
            first = self._days[0]
        if self._days is None or last > self._days[1]:
            last += _GROWTH
        else:
            last = self._days[1]
        self._build(max(first, _FIRST_DAY), min(last, _LAST_DAY))

    def _build(self, first: date, last: date) -> None:
        zone = self._calendar._zone
        lo = _instant(datetime.combine(first, time()), zone)
        hi = _instant(datetime.combine(last + _ONE_DAY, time()), zone)
        self._days, self._lo, self._hi = (first, last), _micros(lo), _micros(hi)
        self._starts, self._ends, self._before, self._through = [], [], [], []
        worked = 0
        for s, e in self._calendar._pieces(lo, last):
            self._starts.append(_micros(s))
            self._ends.append(_micros(e))
            self._before.append(worked)
            worked += self._ends[-1] - self._starts[-1]
            self._through.append(worked)

    def _local_day(self, instant: int) -> date:
        return self._calendar._local_date(_EPOCH + timedelta(microseconds=instant))


def _micros(instant: datetime) -> int:
    """Microseconds since the epoch (the timedelta's parts: faster than dividing it)."""
    since = instant - _EPOCH
    return (since.days * 86_400 + since.seconds) * 1_000_000 + since.microseconds


# Minutes → whole microseconds (timedelta's rounding) for the few amounts clocks ask for
# again and again (targets, plus grace); emptied when full.
_MICROSECONDS_OF: dict[float, int] = {}


def _microseconds_of(minutes: float) -> int:
    amount = _MICROSECONDS_OF.get(minutes)
    if amount is None:
        if len(_MICROSECONDS_OF) >= 4096:
            _MICROSECONDS_OF.clear()
        amount = _MICROSECONDS_OF[minutes] = timedelta(minutes=minutes) // _MICROSECOND
    return amount


def _checked(name: str, hours: Hours) -> Hours:
    intervals = tuple(hours)
    for interval in intervals:
        if len(interval) != 2 or not all(
            isinstance(moment, time) and moment.tzinfo is None for moment in interval
        ):
            raise CalendarError(f"calendar {name} has a malformed interval {interval!r}")
    return intervals


def _zone_named(name: str, key: str) -> ZoneInfo:
    try:
        return ZoneInfo(key)
    except (ValueError, KeyError) as err:  # ZoneInfoNotFoundError is a KeyError
        raise CalendarError(f"calendar {name} has an unknown time zone {key!r}") from err


def _check_holidays(name: str, country: str | None, subdivision: str | None) -> None:
    if country is None:
        if subdivision is not None:
            raise CalendarError(f"calendar {name} has a holiday subdivision but no country")
        return
    try:
        holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError as err:
        raise CalendarError(f"calendar {name}: {err}") from err


@lru_cache(maxsize=512)
def _holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


def as_utc(instant: datetime) -> datetime:
    """The same instant in UTC.

    Raises:
        CalendarError: a naive datetime (a ValueError).
    """
    if instant.tzinfo is UTC:  # most instants here already are
        return instant
    if instant.utcoffset() is None:
        raise CalendarError(f"an aware datetime is required, not {instant.isoformat()}")
    return instant.astimezone(UTC)


_utc = as_utc


def _instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant whose local time in ``zone`` is at or after the naive ``wall`` time."""
    instant = wall.replace(tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    # Skipped by a clock change: bisect the gap, whose edges the two folds give.
    before, after = sorted(wall.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1))
    while after - before > timedelta(microseconds=1):
        middle = before + (after - before) // 2
        if middle.astimezone(zone).replace(tzinfo=None) >= wall:
            after = middle
        else:
            before = middle
    return after
