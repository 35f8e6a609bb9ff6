"""Months as reports use them: "YYYY-MM" in the reporting time zone."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from projections.errors import QueryError

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def month_of(instant: datetime | str, zone: ZoneInfo) -> str:
    """The reporting month an instant (or its RFC 3339 text) falls in."""
    if isinstance(instant, str):
        instant = datetime.fromisoformat(instant)
    # Asked for every row: the answer is kept per day of the instant's own offset, for the
    # days ``zone`` changes neither its offset nor its month in.
    offset = instant.utcoffset()
    if offset is None:
        return _month(instant.astimezone(zone))
    key = (zone, offset, instant.year, instant.month, instant.day)
    month = _MONTHS.get(key)
    if month is None:
        month = _MONTHS[key] = _month_of_day(instant, offset, zone) or ""
        if len(_MONTHS) > 100_000:
            _MONTHS.clear()
    return month or _month(instant.astimezone(zone))


# (zone, offset, year, month, day) → the month of every instant of that day, or "" when it
# is not the same for all of them.
_MONTHS: dict[tuple[object, ...], str] = {}
_DAY = timedelta(days=1)
_MICROSECOND = timedelta(microseconds=1)


def _month_of_day(instant: datetime, offset: timedelta, zone: ZoneInfo) -> str | None:
    """The month in ``zone`` of the whole day ``instant`` falls on in its own offset; None if
    the zone's offset (one change a day at most) or the month changes within it."""
    first = datetime(instant.year, instant.month, instant.day, tzinfo=timezone(offset))
    last = first + _DAY - _MICROSECOND
    begins, ends = first.astimezone(zone), last.astimezone(zone)
    if begins.utcoffset() != ends.utcoffset():
        return None
    month = _month(begins)
    return month if month == _month(ends) else None


def _month(local: datetime) -> str:
    return f"{local.year:04d}-{local.month:02d}"


def shift_month(month: str, count: int) -> str:
    """The month ``count`` months after ``month`` (before, for a negative count)."""
    index = int(month[:4]) * 12 + int(month[5:]) - 1 + count
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def parse_month(text: str) -> str:
    """Validate a YYYY-MM month argument.

    Raises:
        QueryError: if the text is not a month like 2025-03.
    """
    if not _MONTH.match(text):
        raise QueryError(f"'{text}' is not a month; expected YYYY-MM, e.g. 2025-03")
    return text
