"""The SLA commands' questions: parsing the moment, and asking the read side (which holds
the report logic: `projections.sla_report`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from domain.sla_rules import SlaRules
from projections.queries import Row
from projections.read_side import ReadSide
from projections.runner import ProjectionRunner
from projections.sla_report import SlaQuestion
from ticketstream.assembly import read_side_of
from ticketstream.errors import TicketstreamError

Source = ReadSide | ProjectionRunner
__all__ = ["SlaQuestion", "parse_instant", "stale_rules", "sla_rows", "root_cause_rows", "at_risk_rows"]


def parse_instant(text: str | None, zone: ZoneInfo, now: datetime) -> datetime:
    """``--as-of``: "now" (the default), RFC 3339 with an offset, or a local date or date-time
    in the reporting time zone (a bare date means the end of that day).

    Raises:
        TicketstreamError: text that is none of these.
    """
    if text is None or text == "now":
        return now
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise TicketstreamError(
            f"'{text}' is not a moment; use RFC 3339 (2025-03-31T18:00:00+03:00),"
            " a local date-time (2025-03-31T18:00) or a date (2025-03-31)"
        ) from None
    if instant.utcoffset() is not None:
        return instant
    if len(text) == 10:  # a date: as of the end of that day
        instant += timedelta(days=1)
    return instant.replace(tzinfo=zone)


def stale_rules(source: Source) -> str | None:
    """What to say when the SLA read model was computed under other rules than the runner's."""
    return read_side_of(source, ZoneInfo("UTC")).stale_rules()


def sla_rows(
    source: Source, rules: SlaRules, question: SlaQuestion, status: str | None, listing: bool,
) -> tuple[list[Row], str]:  # fmt: skip
    """The rows of `report sla` (summary, or one per clock with ``listing``) and their title."""
    answer = read_side_of(source, ZoneInfo("UTC"), rules).sla(question, status, listing=listing)
    return answer.rows, answer.title


def root_cause_rows(
    source: Source, rules: SlaRules, question: SlaQuestion, by: str, monthly: bool
) -> tuple[list[Row], str]:
    """The rows of `report root-causes` and their title."""
    answer = read_side_of(source, ZoneInfo("UTC"), rules).root_causes(question, by, monthly)
    return answer.rows, answer.title


def at_risk_rows(source: Source, rules: SlaRules, question: SlaQuestion) -> tuple[list[Row], str]:
    """Open clocks at risk or breached as of the moment, with time left and when they are due."""
    answer = read_side_of(source, _zone_of(source), rules).at_risk(question)
    return answer.rows, answer.title


def _zone_of(source: Source) -> ZoneInfo:
    """The zone of the read model's months."""
    if isinstance(source, ReadSide):
        return source.zone
    sla = source.read_models.get("sla_clocks")
    return getattr(sla, "zone", ZoneInfo("UTC"))
