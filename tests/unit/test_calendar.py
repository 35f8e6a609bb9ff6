"""Business calendars: working hours, holidays, clock changes and working-time algebra."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.sla_rules import default_rules
from domain.calendar import BusinessCalendar, CalendarError, Hours, Interval

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
DAYTIME: Hours = ((time(10), time(22)),)
OFFICE: Hours = ((time(9), time(18)),)
SECOND = timedelta(seconds=1)
MICROSECOND = timedelta(microseconds=1)

ZONES = ("UTC", "Europe/Moscow", "Europe/Berlin", "America/New_York")
CLOCK_CHANGES = (  # Berlin spring and autumn, New York spring and autumn, all 2025
    datetime(2025, 3, 30, 1, tzinfo=UTC),
    datetime(2025, 10, 26, 1, tzinfo=UTC),
    datetime(2025, 3, 9, 7, tzinfo=UTC),
    datetime(2025, 11, 2, 6, tzinfo=UTC),
)


# The store of DESIGN §4: 10:00–22:00 Monday to Saturday, closed on Sunday, in Moscow.
STORE = BusinessCalendar("store-014", "Europe/Moscow", {day: DAYTIME for day in range(6)})


def store(**overrides: Any) -> BusinessCalendar:
    """The store of DESIGN §4, with some of its definition changed (and validated again)."""
    return replace(STORE, **overrides)


def office(
    country: str, subdivision: str | None = None, zone: str = "Europe/Moscow"
) -> BusinessCalendar:
    """An office open 09:00–18:00 Monday to Friday, closed on the country's public holidays."""
    hours = {day: OFFICE for day in range(5)}
    return BusinessCalendar("office", zone, hours, country, subdivision)


def local(
    zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0
) -> datetime:
    """An instant given by its wall-clock time in ``zone``."""
    return datetime(year, month, day, hour, minute, tzinfo=zone)


# --- strategies -----------------------------------------------------------------------------


@st.composite
def intervals(draw: st.DrawFn) -> Interval:
    """A quarter-hour aligned interval from 15 minutes to 24 hours, possibly past midnight."""
    opens = draw(st.integers(0, 95)) * 15
    closes = (opens + draw(st.integers(1, 96)) * 15) % (24 * 60)
    return time(*divmod(opens, 60)), time(*divmod(closes, 60))


calendars = st.builds(
    BusinessCalendar,
    name=st.just("drawn"),
    timezone=st.sampled_from(ZONES),
    weekly_hours=st.dictionaries(
        st.integers(0, 6), st.lists(intervals(), min_size=1, max_size=3).map(tuple), min_size=1
    ),
    holiday_country=st.sampled_from([None, "RU", "DE"]),
)
anywhere = st.datetimes(datetime(2024, 1, 1), datetime(2026, 12, 31), timezones=st.just(UTC))
near_clock_changes = st.builds(
    lambda change, offset: change + offset,
    st.sampled_from(CLOCK_CHANGES),
    st.timedeltas(-timedelta(days=2), timedelta(days=2)),
)
instants = st.one_of(anywhere, near_clock_changes).map(lambda t: t.replace(microsecond=0))
whole_seconds_of_minutes = st.integers(0, 2000 * 60).map(lambda seconds: seconds / 60)


# --- the worked example of DESIGN §4 --------------------------------------------------------


def test_a_complaint_reported_on_friday_evening_is_due_on_saturday_morning() -> None:
    reported = local(MOSCOW, 2025, 3, 14, 20, 30)

    due = store().add_working_minutes(reported, 180)

    assert due == local(MOSCOW, 2025, 3, 15, 11, 30)
    assert due.tzinfo is UTC


def test_a_store_closed_on_sunday_carries_a_saturday_evening_complaint_to_monday() -> None:
    reported = local(MOSCOW, 2025, 3, 15, 21, 0)

    due = store().add_working_minutes(reported, 180)

    assert due == local(MOSCOW, 2025, 3, 17, 12, 0)


def test_an_extra_open_sunday_counts_its_own_hours() -> None:
    calendar = store(open_days={date(2025, 3, 16): ((time(12), time(16)),)})

    due = calendar.add_working_minutes(local(MOSCOW, 2025, 3, 15, 21, 0), 180)

    assert due == local(MOSCOW, 2025, 3, 16, 14, 0)


def test_working_minutes_count_only_open_hours() -> None:
    start, end = local(MOSCOW, 2025, 3, 14, 20, 30), local(MOSCOW, 2025, 3, 17, 12)

    minutes = store().working_minutes(start, end)

    assert minutes == 90 + 12 * 60 + 120


# --- zero targets and closed time -----------------------------------------------------------


@pytest.mark.parametrize("hour", [3, 12], ids=["closed", "open"])
def test_a_zero_minute_target_is_due_at_its_start_even_in_closed_time(hour: int) -> None:
    start = local(MOSCOW, 2025, 3, 14, hour, 0)

    due = store().add_working_minutes(start, 0)

    assert due == start


def test_a_target_started_in_closed_time_counts_from_the_next_opening() -> None:
    night = local(MOSCOW, 2025, 3, 16, 23, 0)

    due = store().add_working_minutes(night, 30)

    assert due == local(MOSCOW, 2025, 3, 17, 10, 30)


def test_a_target_ending_exactly_at_closing_is_due_at_closing() -> None:
    calendar = store()

    due = calendar.add_working_minutes(local(MOSCOW, 2025, 3, 14, 21, 0), 60)

    assert due == local(MOSCOW, 2025, 3, 14, 22, 0)
    assert not calendar.is_working(due)


# --- intervals past midnight, holidays and closed days --------------------------------------


def test_an_interval_crossing_midnight_belongs_to_the_day_it_starts_on() -> None:
    bar = BusinessCalendar("bar", "Europe/Moscow", {4: ((time(22), time(2)),)})

    states = [bar.is_working(local(MOSCOW, 2025, 3, *moment)) for moment in
              [(13, 23), (14, 21, 59), (14, 22), (15, 1, 59), (15, 2), (15, 23)]]  # fmt: skip
    week = bar.working_minutes(local(MOSCOW, 2025, 3, 10), local(MOSCOW, 2025, 3, 17))

    assert states == [False, False, True, True, False, False]
    assert week == 240


def test_a_closed_day_does_not_cut_short_an_interval_begun_the_day_before() -> None:
    bar = BusinessCalendar(
        "bar", "Europe/Moscow", {4: ((time(22), time(2)),), 5: ((time(22), time(2)),)},
        closed_days=frozenset({date(2025, 3, 15)}),
    )  # fmt: skip

    after_midnight = bar.is_working(local(MOSCOW, 2025, 3, 15, 1, 0))
    saturday_night = bar.is_working(local(MOSCOW, 2025, 3, 15, 23, 0))

    assert after_midnight
    assert not saturday_night


def test_russian_new_year_holidays_close_the_first_eight_days_of_january() -> None:
    calendar = office("RU")

    closed = calendar.working_minutes(local(MOSCOW, 2025, 1, 1), local(MOSCOW, 2025, 1, 9))
    due = calendar.add_working_minutes(local(MOSCOW, 2024, 12, 27, 17, 0), 120)

    assert closed == 0
    assert due == local(MOSCOW, 2025, 1, 9, 10, 0)


def test_german_unity_day_closes_everywhere_and_epiphany_only_in_bavaria() -> None:
    unity, epiphany = local(BERLIN, 2025, 10, 3, 12), local(BERLIN, 2025, 1, 6, 12)

    germany, bavaria = office("DE", zone="Europe/Berlin"), office("DE", "BY", "Europe/Berlin")

    assert not germany.is_working(unity) and not bavaria.is_working(unity)
    assert germany.is_working(epiphany) and not bavaria.is_working(epiphany)


def test_an_extra_open_day_overrides_a_holiday() -> None:
    calendar = BusinessCalendar(
        "office", "Europe/Moscow", {day: OFFICE for day in range(5)}, "RU",
        open_days={date(2025, 1, 3): ((time(10), time(14)),)},
    )  # fmt: skip

    minutes = calendar.working_minutes(local(MOSCOW, 2025, 1, 1), local(MOSCOW, 2025, 1, 9))

    assert minutes == 4 * 60


def test_working_intervals_are_merged_across_midnight_and_clipped_to_the_span() -> None:
    calendar = BusinessCalendar.always_open(timezone="Europe/Moscow")
    start, end = local(MOSCOW, 2025, 3, 14, 12), local(MOSCOW, 2025, 3, 17, 12)

    spans = calendar.working_intervals(start, end)

    assert spans == [(start, end)]
    assert all(moment.tzinfo is UTC for span in spans for moment in span)


# --- clock changes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        (BERLIN, date(2025, 3, 30), 23), (BERLIN, date(2025, 10, 26), 25),
        (NEW_YORK, date(2025, 3, 9), 23), (NEW_YORK, date(2025, 11, 2), 25),
    ],
)  # fmt: skip
def test_a_local_round_the_clock_day_lasts_as_long_as_the_clock_change_makes_it(
    zone: ZoneInfo, day: date, hours: int
) -> None:
    calendar = BusinessCalendar.always_open(timezone=zone.key)
    early_hours = BusinessCalendar("night", zone.key, {day.weekday(): ((time(0), time(6)),)})
    midnight = datetime.combine(day, time(0), zone)
    next_midnight = datetime.combine(day + timedelta(days=1), time(0), zone)

    whole_day = calendar.working_minutes(midnight, next_midnight)
    night_shift = early_hours.working_minutes(midnight, next_midnight)

    assert whole_day == hours * 60
    assert night_shift == (hours - 18) * 60


@pytest.mark.parametrize(
    ("interval", "day", "expected"),
    [
        ((time(2, 30), time(5)), date(2025, 3, 30), ("01:00", "03:00")),  # opens in the gap
        ((time(0), time(2, 30)), date(2025, 3, 30), ("2025-03-29T23:00", "01:00")),  # closes in it
        ((time(2, 30), time(4)), date(2025, 10, 26), ("00:30", "03:00")),  # opens twice: first
    ],
    ids=["opening-skipped", "closing-skipped", "opening-repeated"],
)
def test_skipped_and_repeated_wall_times_resolve_to_the_first_valid_instant(
    interval: Interval, day: date, expected: tuple[str, str]
) -> None:
    calendar = BusinessCalendar("night", "Europe/Berlin", {day.weekday(): (interval,)})
    day_start = datetime.combine(day, time(0), BERLIN)

    spans = calendar.working_intervals(day_start, day_start + timedelta(days=1))

    iso = [s if "T" in s else f"{day}T{s}" for s in expected]
    assert spans == [tuple(datetime.fromisoformat(f"{s}+00:00") for s in iso)]


# --- rejected definitions and arguments -----------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"weekly_hours": {}},
        {"weekly_hours": {day: () for day in range(7)}},
        {"weekly_hours": {}, "open_days": {date(2025, 3, 16): ()}},
    ],
    ids=["no-hours", "only-closed-days", "empty-open-day"],
)
def test_a_calendar_without_working_time_is_rejected(overrides: dict[str, object]) -> None:
    with pytest.raises(CalendarError, match="has no working time"):
        store(**overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"timezone": "Mars/Olympus_Mons"},
        {"weekly_hours": {7: DAYTIME}},
        {"weekly_hours": {0: ((time(10),),)}},
        {"weekly_hours": {0: ((time(10, tzinfo=UTC), time(22)),)}},
        {"holiday_country": "XX"},
        {"holiday_country": "DE", "holiday_subdivision": "ZZ"},
        {"holiday_subdivision": "BY"},
    ],
    ids=["zone", "weekday", "half-interval", "aware-time", "country", "subdivision", "no-country"],
)
def test_a_malformed_calendar_is_rejected(overrides: dict[str, object]) -> None:
    with pytest.raises(CalendarError):
        store(**overrides)


@pytest.mark.parametrize("minutes", [-1, float("nan"), float("inf")])
def test_a_negative_or_infinite_target_is_rejected(minutes: float) -> None:
    with pytest.raises(CalendarError):
        store().add_working_minutes(local(MOSCOW, 2025, 3, 14, 12), minutes)


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(CalendarError, match="aware"):
        store().working_minutes(datetime(2025, 3, 14), local(MOSCOW, 2025, 3, 15))


def test_a_target_with_no_working_time_for_three_years_is_an_error() -> None:
    fair = BusinessCalendar("fair", "UTC", {}, open_days={date(2025, 5, 1): OFFICE})

    inside = fair.add_working_minutes(datetime(2024, 1, 1, tzinfo=UTC), 60)

    assert inside == datetime(2025, 5, 1, 10, tzinfo=UTC)
    with pytest.raises(CalendarError, match="three years"):
        fair.add_working_minutes(datetime(2025, 5, 2, tzinfo=UTC), 60)


def test_calendars_with_the_same_definition_are_equal_and_hashable() -> None:
    first, second = store(), store()

    assert first == second
    assert len({first, second}) == 1


# --- properties -----------------------------------------------------------------------------


@settings(max_examples=150)
@given(calendars, instants, whole_seconds_of_minutes)
def test_adding_working_minutes_then_measuring_gives_them_back(
    calendar: BusinessCalendar, start: datetime, minutes: float
) -> None:
    due = calendar.add_working_minutes(start, minutes)

    assert calendar.working_minutes(start, due) == pytest.approx(minutes, abs=1e-6)


@settings(max_examples=150)
@given(calendars, instants, whole_seconds_of_minutes.filter(bool))
def test_a_due_instant_is_the_end_of_a_working_stretch(
    calendar: BusinessCalendar, start: datetime, minutes: float
) -> None:
    due = calendar.add_working_minutes(start, minutes)

    assert calendar.is_working(due - SECOND)
    assert calendar.working_minutes(start, due - SECOND) < minutes


@settings(max_examples=150)
@given(calendars, st.lists(instants, min_size=3, max_size=3).map(sorted))
def test_working_time_is_additive_and_monotonic(
    calendar: BusinessCalendar, instants_: list[datetime]
) -> None:
    a, b, c = instants_

    whole, first, rest = (calendar.working_minutes(*span) for span in [(a, c), (a, b), (b, c)])

    assert whole == pytest.approx(first + rest, abs=1e-6)
    assert 0 <= first <= whole
    assert calendar.working_minutes(c, a) == 0


@settings(max_examples=100)
@given(calendars, instants, st.integers(0, 30 * 24 * 60))
def test_working_intervals_are_disjoint_working_time_adding_up_to_working_minutes(
    calendar: BusinessCalendar, start: datetime, span_minutes: int
) -> None:
    end = start + timedelta(minutes=span_minutes)

    spans = calendar.working_intervals(start, end)

    total = sum(((e - s).total_seconds() / 60 for s, e in spans), 0.0)
    assert total == pytest.approx(calendar.working_minutes(start, end), abs=1e-6)
    assert all(start <= s < e <= end for s, e in spans)
    assert all(earlier[1] < later[0] for earlier, later in pairwise(spans))
    assert all(calendar.is_working(s) and calendar.is_working(e - MICROSECOND) for s, e in spans)


@settings(max_examples=150)
@given(calendars, instants)
def test_an_instant_is_working_exactly_when_the_next_microsecond_counts(
    calendar: BusinessCalendar, instant: datetime
) -> None:
    working = calendar.is_working(instant)

    assert working == (calendar.working_minutes(instant, instant + MICROSECOND) > 0)


@given(st.sampled_from(ZONES), instants, instants)
def test_a_local_round_the_clock_calendar_counts_every_real_minute(
    zone: str, start: datetime, end: datetime
) -> None:
    calendar = BusinessCalendar.always_open(timezone=zone)

    minutes = calendar.working_minutes(start, end)

    assert minutes == pytest.approx(max((end - start).total_seconds() / 60, 0), abs=1e-6)


@settings(max_examples=150)
@given(
    calendars, instants,
    # About a year before: the timeline then ends right where the answer lies.
    st.lists(st.integers(-369, -362) | st.integers(-4 * 366, 4 * 366), min_size=1, max_size=4),
    whole_seconds_of_minutes,
)
def test_what_a_calendar_was_asked_before_does_not_change_its_answers(
    calendar: BusinessCalendar, start: datetime, earlier_days: list[int], minutes: float
) -> None:
    # Each answer comes from a cached timeline that grows with the questions asked: a
    # calendar that has answered questions about other years must answer like a fresh one.
    fresh = replace(calendar)
    for days in earlier_days:
        calendar.add_working_minutes(start + timedelta(days=days), 60)

    due = calendar.add_working_minutes(start, minutes)

    assert due == fresh.add_working_minutes(start, minutes)
    assert calendar.working_minutes(start, due) == fresh.working_minutes(start, due)


def test_a_deadline_across_the_new_year_after_a_question_a_year_before() -> None:
    # Found by the crash test: the answer depended on the calendar's earlier questions.
    calendar = default_rules().calendar("customer_service")
    calendar.add_working_minutes(datetime(2024, 12, 30, 7, tzinfo=UTC), 60)

    due = calendar.add_working_minutes(datetime(2025, 12, 29, 7, 8, tzinfo=UTC), 1080)

    # Monday 29 December 10:08-18:00 Moscow (472 min) and Tuesday 30 9:00-18:00 (540),
    # 31 December to 11 January closed (New Year holidays), 68 min on Monday 12 January.
    assert due == datetime(2026, 1, 12, 7, 8, tzinfo=UTC)
