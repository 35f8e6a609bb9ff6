"""Reading events from JSON Lines files, validating every line against the contract."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from contracts.codec import DEFAULT_MAX_MESSAGE_BYTES, decode
from contracts.errors import ContractError
from contracts.events import EventBase
from producers.errors import InvalidLine


@dataclass
class JsonlBatch:
    """The valid events of a file, and the invalid lines that were skipped."""

    events: list[EventBase] = field(default_factory=list)
    invalid: list[InvalidLine] = field(default_factory=list)


def read_events(
    lines: Iterable[bytes], *, skip_invalid: bool = False, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
) -> JsonlBatch:
    """Validate every non-blank line.

    Raises:
        InvalidLine: for the first bad line, unless ``skip_invalid``.
    """
    batch = JsonlBatch()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            batch.events.append(decode(line.strip(), max_bytes=max_bytes))
        except ContractError as err:
            invalid = InvalidLine(number, err.reason, err.detail)
            if not skip_invalid:
                raise invalid from None
            batch.invalid.append(invalid)
    return batch
