"""Months as reports use them: "YYYY-MM" in the reporting time zone."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from projections.errors import QueryError

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def month_of(instant: datetime | str, zone: ZoneInfo) -> str:
    """The reporting month an instant (or its RFC 3339 text) falls in."""
    if isinstance(instant, str):
        instant = datetime.fromisoformat(instant)
    local = instant.astimezone(zone)
    return f"{local.year:04d}-{local.month:02d}"


def parse_month(text: str) -> str:
    """Validate a YYYY-MM month argument.

    Raises:
        QueryError: if the text is not a month like 2025-03.
    """
    if not _MONTH.match(text):
        raise QueryError(f"'{text}' is not a month; expected YYYY-MM, e.g. 2025-03")
    return text
