"""The SLA commands' questions: parsing the moment (the read side answers them:
`ReadSide.sla`, `root_causes`, `at_risk`; the logic is in `projections.sla_report`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from projections.sla_report import SlaQuestion
from ticketstream.errors import TicketstreamError

__all__ = ["SlaQuestion", "parse_instant"]


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
