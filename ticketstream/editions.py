"""`month close`: freezes a month's report figures as an edition (a write command; the
editions are read by the read side: `ReadSide.edition`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from projections import editions
from projections.editions import MONTHLY, WHOLE_MONTH, Edition
from projections.month import month_of, parse_month
from projections.queries import Period
from projections.read_side import ReadSide
from projections.runner import ProjectionRunner
from ticketstream.errors import TicketstreamError


def close_month(runner: ProjectionRunner, side: ReadSide, month: str, now: datetime) -> int:
    """Freeze the month's reports (for all departments and each one), as ``side`` reads them
    over the runner's store, as published now; return how many editions were stored.

    Raises:
        TicketstreamError: the month is not over yet, or was closed already.
    """
    month = parse_month(month)
    if month >= month_of(now, side.zone):
        raise TicketstreamError(f"{month} is not over yet: only a past month can be closed")
    with runner.transaction(commit=True) as c:
        editions.create_table(c)
        published = editions.closed_months(c).get(month)
        departments = editions.departments_of(c, month)
    if published is not None:
        raise TicketstreamError(f"{month} was published {published}; an edition is never replaced")
    head = runner.app.recorder.max_notification_id() or 0
    stamp = now.isoformat()
    whole = Period(month, month)
    frozen = [
        Edition(month, report, department, stamp, head, side.restated(report, whole, department, now))
        for department in (None, *departments)
        for report in (*MONTHLY, *WHOLE_MONTH)
    ]  # fmt: skip
    with runner.transaction(commit=True) as c:
        editions.store(c, frozen)
    return len(frozen)


def month_to_close(
    runner: ProjectionRunner, now: datetime, zone: ZoneInfo, after_days: int
) -> str | None:
    """The latest month that ended at least ``after_days`` days ago, if it has figures and is
    not closed yet. Only that one: months further back are closed by hand (a backfill of last
    year is not published behind the user's back)."""
    end = now.astimezone(zone).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while end + timedelta(days=after_days) > now:
        end = (end - timedelta(days=1)).replace(day=1)  # the first day of the month before
    month = month_of(end - timedelta(days=1), zone)
    with runner.transaction(commit=True) as c:
        editions.create_table(c)
        if month in editions.closed_months(c) or not editions.departments_of(c, month):
            return None
    return month
