"""The read side's one front door: every report is a function of (the read models, the
question, as of T) that returns one typed `Report`.

The CLI, the HTTP API and the HTML page all ask it; they only choose the question and render
the answer. It reads through a `StoreReader` (transactions that never write) and creates no
table: a read model that has not been projected yet has no table, and its report no rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from domain.sla_rules import SlaRules
from projections import queries, sla_report
from projections import editions
from projections.editions import Edition, departments_of
from projections.explanation import explanation
from projections.incident_quality import TABLE as QUALITY_TABLE
from projections.incident_queries import monthly_counts, root_cause_counts
from projections.incident_quality import quality_report
from projections.lag import time_behind
from projections.queries import Period, Row
from projections.read_model import Cursor
from projections.repeat_contacts import TABLE as CONTACTS_TABLE
from projections.repeat_contacts import repeat_contact_rows
from projections.report import Report, report
from projections.sla_clocks import STALE_RULES, recorded_fingerprint
from projections.errors import QueryError
from projections.sla_queries import ClockFilter, PolicyChoice
from projections.sla_report import SlaQuestion
from projections.store_reader import StoreReader

_MONTHLY: dict[str, tuple[Callable[[Cursor, Period, str | None], list[Row]], str, tuple[str, ...]]] = {
    "channels": (queries.channel_rows, "Channel mix: contacts per month and channel", ("channel_mix",)),
    "dynamics": (queries.dynamics_rows, "Incident dynamics: incidents received per month", ("dynamics",)),
    "thanks": (queries.thanks_rows, "Share of thanks among contacts per month",
               ("thanks_share", "channel_mix", "dynamics")),
}  # fmt: skip
MONTHLY_REPORTS = tuple(_MONTHLY)
_T = TypeVar("_T")


@dataclass(frozen=True)
class ReadSide:
    """The reports over one store: ``zone`` of its months, the SLA ``rules``, the read models'
    ``projections`` (names, for their status) and the rules' ``sla_fingerprint``."""

    reader: StoreReader
    zone: ZoneInfo
    rules: SlaRules
    quick_reopen_hours: float = 72.0
    projections: tuple[str, ...] = ()
    sla_fingerprint: str | None = None

    def monthly(self, name: str, period: Period, department: str | None) -> Report:
        """`report channels|dynamics|thanks` over the period's months."""
        query, title, tables = _MONTHLY[name]
        rows: list[Row] = self._read(tables, lambda c: query(c, period, department), [])
        return report(title + (f" — {department}" if department else ""), rows)

    def departments(self, month: str) -> list[str]:
        """The departments with contacts or incidents in a month."""
        found: list[str] = self._read(("channel_mix", "dynamics"), lambda c: departments_of(c, month), [])
        return found

    def quality(self, period: Period, department: str | None, as_of: datetime) -> Report:
        """`report quality`: the counter-metrics per month and department, as of T."""
        rows: list[Row] = self._read(
            (QUALITY_TABLE, "thanks_share", "channel_mix", "dynamics"),
            lambda c: quality_report(c, period, department, as_of, self.quick_reopen_hours), [],
        )
        title = (f"Service quality as of {as_of.isoformat(timespec='minutes')} (quick reopen: within"
                 f" {self.quick_reopen_hours:g} h)" + (f" — {department}" if department else ""))  # fmt: skip
        return report(title, rows)

    def repeat_contacts(self, period: Period, department: str | None, within_days: int) -> Report:
        """`report repeat-contacts`: per month and department, customers coming back within N days."""
        rows: list[Row] = self._read(
            (CONTACTS_TABLE,), lambda c: repeat_contact_rows(c, period, department, within_days), []
        )
        title = f"Repeat contacts (within {within_days:g} days)" + (f" — {department}" if department else "")
        return report(title, rows)

    def editions_of(self, name: str, period: Period, department: str | None) -> list[Edition]:
        """The published editions of one report for the period's months (`month close`)."""
        found: list[Edition] = self._read(
            (editions.TABLE,), lambda c: editions.editions_of(c, name, period.first, period.last, department), []
        )
        return found

    def restated(self, name: str, period: Period, department: str | None, now: datetime) -> list[Row]:
        """Today's rows of a report that has editions (the SLA ones as of ``now``, each
        clock under its own policy version)."""
        if name in editions.MONTHLY:
            return self.monthly(name, period, department).rows
        question = SlaQuestion(ClockFilter(period, department, None), now, "started")
        return (self.sla(question) if name == "sla" else self.root_causes(question)).rows

    def edition(
        self, name: str, period: Period, department: str | None, which: editions.EditionName, now: datetime
    ) -> tuple[list[Row], list[str]]:
        """`report ... --edition`: the rows of the edition asked for (``diff``: each figure
        changed since publication, with the late events that changed it) and the period's
        months that have none.

        Raises:
            QueryError: an edition of a whole-period report over more than one month.
        """
        if which == "restated":
            return self.restated(name, period, department, now), []
        if name in editions.WHOLE_MONTH and period.first != period.last:
            raise QueryError(f"editions of {name} are of one month: give --from and --to the same month")
        found = self.editions_of(name, period, department)
        missing = editions.unpublished(period, [e.month for e in found])
        if which == "published":
            return [row for e in found for row in e.rows], missing
        today = self.restated(name, period, department, now)
        why = editions.late_events(self.reader.app, found, self.zone)
        rows: list[Row] = []
        for edition in found:
            mine = today if name in editions.WHOLE_MONTH else [r for r in today if r.get("month") == edition.month]
            rows += [{**r, "why": why[edition.month]} for r in editions.differences(name, edition, mine)]
        return rows, missing

    def published_months(self) -> dict[str, str]:
        """Every closed month with the moment it was published."""
        found: dict[str, str] = self._read((editions.TABLE,), editions.closed_months, {})
        return found

    def sla(self, question: SlaQuestion, status: str | None = None, *, listing: bool = False) -> Report:
        """`report sla`: the summary per department and clock, or (``listing``) the clocks."""
        return self._sla(lambda c: sla_report.sla_rows(c, self.rules, question, status, listing))

    def root_causes(self, question: SlaQuestion, by: str = "root_cause", monthly: bool = False) -> Report:
        """`report root-causes`: breached resolutions by cause, with a Pareto."""
        return self._sla(lambda c: sla_report.root_cause_rows(c, self.rules, question, by, monthly))

    def at_risk(self, question: SlaQuestion) -> Report:
        """`report at-risk`: open clocks at risk or breached at T, the most urgent first."""
        return self._sla(lambda c: sla_report.at_risk_rows(c, self.rules, question, self.zone))

    def explain(self, incident_id: str, as_of: datetime, policy: PolicyChoice = "started") -> Report:
        """`incident explain`: every clock of the incident, stretch by stretch, as of T."""
        return explanation(self.reader.app, self.rules, incident_id, as_of, policy)

    def projection_status(self, now: datetime) -> Report:
        """Each read model's position, lag in notifications and in time, and its rules."""
        stale = self.stale_rules()
        stored: dict[str, int] = self._read(("projection_tracking",), _positions, {})
        head = self.reader.app.recorder.max_notification_id() or 0
        rows: list[Row] = []
        for name in self.projections:
            position = stored.get(name, 0)
            behind = time_behind(self.reader.app, position, head, now)
            rows.append({
                "projection": name, "position": position, "head": head, "lag": head - position,
                "event_time_behind_seconds": behind.event.total_seconds(),
                "wall_time_behind_seconds": behind.wall.total_seconds(),
                "rules": (stale or "current") if name == "sla_clocks" else "-",
            })  # fmt: skip
        return report("Projections", rows)

    def recorded_fingerprint(self) -> str | None:
        """The fingerprint of the rules the SLA clocks were computed under; None: not yet."""
        found: str | None = self._read(("sla_clocks_rules",), recorded_fingerprint, None)
        return found

    def incident_counts(self, period: Period, source: str | None) -> tuple[list[Row], list[Row]]:
        """Per month the incidents (received, resolved, reopened, reassigned) of one source, and
        their root causes: what an import is reconciled with."""
        none: tuple[list[Row], list[Row]] = ([], [])
        counts: tuple[list[Row], list[Row]] = self._read(
            ("incident_summaries",),
            lambda c: (monthly_counts(c, period, source), root_cause_counts(c, period, source)), none,
        )
        return counts

    def stale_rules(self) -> str | None:
        """`STALE_RULES` when the SLA clocks were computed under other rules than these."""
        if self.sla_fingerprint is None or "sla_clocks_rules" not in self.reader.tables():
            return None
        with self.reader.reading() as c:
            recorded = recorded_fingerprint(c)
        return None if recorded in (None, self.sla_fingerprint) else STALE_RULES

    def _sla(self, query: Callable[[Cursor], tuple[list[Row], str]]) -> Report:
        if "sla_clocks" in self.reader.tables():
            with self.reader.reading() as c:
                rows, title = query(c)
        else:  # nothing projected yet: the empty answer, titled as any other
            rows, title = query(_NoRows())
        return report(title, rows)

    def _read(self, tables: Sequence[str], query: Callable[[Cursor], _T], empty: _T) -> _T:
        present = self.reader.tables()
        if not all(t in present for t in tables):
            return empty
        with self.reader.reading() as c:
            return query(c)


def _positions(c: Cursor) -> dict[str, int]:
    c.execute("SELECT projection, notification_id FROM projection_tracking")
    return {str(name): int(position) for name, position in c.fetchall()}


class _NoRows:
    """A cursor over tables that do not exist yet: every query answers nothing."""

    description = ()

    def execute(self, statement: str, params: Sequence[object] = ()) -> None:
        """Nothing to run."""

    def fetchall(self) -> list[tuple[object, ...]]:
        return []

    def fetchone(self) -> tuple[object, ...] | None:
        return None
