"""Working hours of the departments, and working-time arithmetic on UTC instants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from random import Random
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class WorkingHours:
    """Local working hours of a department, and whether it works at weekends."""

    opens: int
    closes: int
    weekends: bool

    def works_on(self, day: date) -> bool:
        return self.weekends or day.weekday() < 5

    @property
    def minutes_per_day(self) -> int:
        return (self.closes - self.opens) * 60


STORE_HOURS = WorkingHours(10, 22, weekends=True)
OFFICE_HOURS = WorkingHours(9, 18, weekends=False)


class WorkingClock:
    """Working-time arithmetic on UTC instants, with working days read in the local zone."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._windows: dict[tuple[WorkingHours, date], tuple[datetime, datetime] | None] = {}

    def window(self, hours: WorkingHours, day: date) -> tuple[datetime, datetime] | None:
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

    def add(self, hours: WorkingHours, start: datetime, minutes: int) -> datetime:
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

    def moment(self, rng: Random, hours: WorkingHours, days: list[date]) -> datetime:
        """A random whole minute inside the working hours of one of ``days``."""
        window = self.window(hours, rng.choice([d for d in days if hours.works_on(d)]))
        assert window is not None  # the day was chosen among working days
        span = int((window[1] - window[0]).total_seconds()) // 60
        return window[0] + timedelta(minutes=rng.randrange(span))
