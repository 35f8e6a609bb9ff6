"""Reading the JSON log lines of a ticketstream process."""

from __future__ import annotations

import json
from typing import Any

_DECODER = json.JSONDecoder()


def log_event(line: str) -> dict[str, Any] | None:
    """The JSON log event a line of stderr begins with (None: not a JSON line).

    kafka-python's threads log through the standard library, and their lines can land between
    a JSON line and its newline: the JSON object is what comes first.
    """
    if not line.startswith("{"):
        return None
    event: dict[str, Any] = _DECODER.raw_decode(line)[0]
    return event
