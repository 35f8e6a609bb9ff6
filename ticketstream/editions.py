"""Published vs restated months: `month close` freezes a month's report figures as an edition;
reports then show the published edition, today's (restated) numbers, or the difference and
the late events that made it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from domain.sla_rules import SlaRules
from projections import editions
from projections.editions import Edition
from projections.month import month_of, parse_month, shift_month
from projections.queries import Period, Row
from projections.runner import ProjectionRunner
from projections.sla_queries import ClockFilter
from ticketstream import reports, sla_reports
from ticketstream.errors import TicketstreamError

EditionName = Literal["published", "restated", "diff"]
# Monthly reports: every row is of one month, so a period's edition is its months' editions.
MONTHLY = ("channels", "dynamics", "thanks")
# Reports over a period as a whole: an edition exists for a one-month period only.
WHOLE_MONTH = ("sla", "root-causes")
# The columns that say which row a figure belongs to (the others are compared).
KEYS: dict[str, tuple[str, ...]] = {
    "channels": ("month", "channel"),
    "dynamics": ("month",),
    "thanks": ("month",),
    "sla": ("department", "clock"),
    "root-causes": ("root_cause",),
}


def close_month(runner: ProjectionRunner, rules: SlaRules, month: str, now: datetime, zone: ZoneInfo) -> int:
    """Freeze the month's reports (for all departments and each one) as published now;
    return how many editions were stored.

    Raises:
        TicketstreamError: the month is not over yet, or was closed already.
    """
    month = parse_month(month)
    if month >= month_of(now, zone):
        raise TicketstreamError(f"{month} is not over yet: only a past month can be closed")
    with runner.transaction(commit=True) as c:
        editions.create_table(c)
        published = editions.closed_months(c).get(month)
        departments = editions.departments_of(c, month)
    if published is not None:
        raise TicketstreamError(f"{month} was published {published}; an edition is never replaced")
    head = runner.app.recorder.max_notification_id() or 0
    stamp = now.isoformat()
    frozen = [
        Edition(month, report, department, stamp, head, rows_now(runner, rules, report, month, department, now, zone))
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


def rows_now(
    runner: ProjectionRunner, rules: SlaRules, report: str, month: str, department: str | None,
    now: datetime, zone: ZoneInfo,
) -> list[Row]:  # fmt: skip
    """Today's (restated) rows of one report for one month."""
    if report in MONTHLY:
        return reports.report_rows(runner, report, month, month, department, now, zone)
    question = sla_reports.SlaQuestion(ClockFilter(Period(month, month), department, None), now, "started")
    if report == "sla":
        return sla_reports.sla_rows(runner, rules, question, None, False)[0]
    return sla_reports.root_cause_rows(runner, rules, question, "root_cause", False)[0]


def edition_rows(
    runner: ProjectionRunner, report: str, period: Period, department: str | None,
    which: EditionName, restated: Callable[[], list[Row]], zone: ZoneInfo,
) -> tuple[list[Row], list[str]]:  # fmt: skip
    """The rows of the edition asked for, and the months of the period that have none.

    Raises:
        TicketstreamError: an edition of a whole-period report over more than one month.
    """
    if which == "restated":
        return restated(), []
    if report in WHOLE_MONTH and period.first != period.last:
        raise TicketstreamError(
            f"editions of {report} are of one month: give --from and --to the same month"
        )
    with runner.transaction(commit=True) as c:
        editions.create_table(c)
        found = editions.editions_of(c, report, period.first, period.last, department)
    missing = _unpublished(period, [e.month for e in found])
    if which == "published":
        return [row for e in found for row in e.rows], missing
    today = restated()
    why = late_events(runner, found, zone)
    rows: list[Row] = []
    for edition in found:
        mine = today if report in WHOLE_MONTH else [r for r in today if r.get("month") == edition.month]
        rows += [{**r, "why": why[edition.month]} for r in differences(report, edition, mine)]
    return rows, missing


def differences(report: str, edition: Edition, today: list[Row]) -> list[Row]:
    """Each figure that changed since the edition was published, row by row."""
    keys = KEYS[report]
    then = {tuple(r.get(k) for k in keys): r for r in edition.rows}
    now = {tuple(r.get(k) for k in keys): r for r in today}
    changed: list[Row] = []
    for key in sorted(then.keys() | now.keys(), key=lambda k: tuple(str(v) for v in k)):
        old, new = then.get(key, {}), now.get(key, {})
        for measure in [m for m in {**old, **new} if m not in keys]:
            before, after = old.get(measure), new.get(measure)
            if before != after:
                changed.append({
                    **dict(zip(keys, key)), "month": edition.month, "measure": measure,
                    "published": before, "restated": after, "published_at": edition.published_at,
                })  # fmt: skip
    return changed


def late_events(runner: ProjectionRunner, found: list[Edition], zone: ZoneInfo) -> dict[str, str]:
    """Why each edition's month changed: the events of that month stored after its
    publication, by kind and the day they arrived ("+2 received events that arrived
    2025-04-10"); one pass over the store from the earliest publication."""
    heads = {e.month: e.head for e in found}
    arrived: dict[str, Counter[tuple[str, str]]] = {month: Counter() for month in heads}
    for notification_id, event in runner.app.events_since(min(heads.values(), default=0)):
        month = month_of(datetime.fromisoformat(event.occurred_at), zone)
        if event.KIND and month in heads and notification_id > heads[month]:
            arrived[month][(event.KIND, event.timestamp.astimezone(zone).date().isoformat())] += 1
    return {month: _why(counts) for month, counts in arrived.items()}


def _why(arrived: Counter[tuple[str, str]]) -> str:
    if not arrived:
        return "no late events (rules or corrections changed the figures)"
    return "; ".join(f"+{n} {kind} events that arrived {day}" for (kind, day), n in sorted(arrived.items()))


def _unpublished(period: Period, published: list[str]) -> list[str]:
    if period.first == "0000-01":
        return []  # an open-ended period: the months without an edition are simply not shown
    months, month = [], period.first
    while month <= period.last:
        if month not in published:
            months.append(month)
        month = shift_month(month, 1)
    return months


def published_months(runner: ProjectionRunner) -> dict[str, str]:
    """Every closed month with the moment it was published."""
    with runner.transaction(commit=True) as c:
        editions.create_table(c)
        return editions.closed_months(c)
