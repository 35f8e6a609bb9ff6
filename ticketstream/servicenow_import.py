"""`import servicenow`: an export's events to JSONL or to Kafka, with a progress bar and a summary."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from contracts.events import EventBase
from contracts.printable import first_unprintable
from producers.servicenow import ImportOptions, ImportSummary, import_export
from producers.simulator import write_jsonl
from ticketstream import assembly
from ticketstream.errors import TicketstreamError
from ticketstream.safe_text import say
from ticketstream.settings import Settings

# Files smaller than this are read before a progress bar would be worth drawing.
PROGRESS_FROM_BYTES = 4 << 20
Progressed = Callable[[int], None]


def import_options(
    settings: Settings, timezone: str | None, source: str, skip_invalid: bool
) -> ImportOptions:
    """The options of an import; the export's zone defaults to the reporting one.

    Raises:
        TicketstreamError: for an unknown time zone or a source the contract refuses (1 to 64
            printable characters).
    """
    try:
        zone = ZoneInfo(timezone) if timezone else settings.zone
    except (ZoneInfoNotFoundError, ValueError):
        expected = "expected an IANA zone, e.g. Europe/Moscow"
        raise TicketstreamError(f"unknown time zone '{timezone}'; {expected}") from None
    if not 1 <= len(source) <= 64 or first_unprintable(source) is not None:
        raise TicketstreamError("--source must be 1 to 64 printable characters")
    return ImportOptions(zone, source, skip_invalid)


def write(
    file: Path, options: ImportOptions, output: Path | None, progress: Console
) -> ImportSummary:
    """Write the export's events as JSONL to ``output`` (all or nothing), or to stdout."""
    summary = ImportSummary()
    if output is None:
        with _reading(file, progress, "importing") as (stream, advance):
            write_jsonl(_dicts(import_export(stream, options, summary, advance)), sys.stdout)
        return summary
    partial = output.with_name(output.name + ".part")
    try:
        with _reading(file, progress, "importing") as (stream, advance), partial.open("w") as out:
            write_jsonl(_dicts(import_export(stream, options, summary, advance)), out)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    return summary


def publish(
    settings: Settings, file: Path, options: ImportOptions, progress: Console,
    *, embedded: bool = False,
) -> ImportSummary:  # fmt: skip
    """Publish the export's events; unless bad rows are skipped, the whole file is checked first,
    so a bad row publishes nothing."""
    if not options.skip_invalid:
        with _reading(file, progress, "checking") as (stream, advance):
            for _ in import_export(stream, options, ImportSummary(), advance):
                pass
    summary = ImportSummary()
    with _reading(file, progress, "publishing") as (stream, advance):
        events = import_export(stream, options, summary, advance)
        assembly.publish(settings, events, embedded=embedded)
    return summary


def print_summary(summary: ImportSummary, did: str, console: Console) -> None:
    """The rows skipped (the first few), then one line on what the import did."""
    for invalid in summary.first_skipped:
        say(console, f"skipped {invalid}")
    if summary.skipped > len(summary.first_skipped):
        more = summary.skipped - len(summary.first_skipped)
        say(console, f"skipped {more} more invalid rows")
    say(console, summary_line(summary, did))


# Notes printed only when they happened (skipped, clamped and unknown states always are).
_RARE_NOTES = {
    "duplicate_rows": "duplicate rows ignored",
    "held_after_closure": "changes of closed incidents held",
    "reopen_without_resolution": "reopens without a resolution ignored",
}


def summary_line(summary: ImportSummary, did: str) -> str:
    """One line on what an import read and made, e.g. ``did`` = "wrote {n} events to x.jsonl"."""
    total = sum(summary.events.values())
    by_type = ", ".join(
        f"{kind.removeprefix('incident.')}={n}" for kind, n in sorted(summary.events.items())
    )
    notes = summary.notes
    counted = [
        f"{summary.skipped} invalid rows skipped", f"{notes['clamped_rows']} rows clamped",
        f"{notes['unknown_states']} unknown states",
        *(f"{notes[key]} {text}" for key, text in _RARE_NOTES.items() if notes[key]),
    ]  # fmt: skip
    return (
        f"read {summary.rows} rows of {summary.incidents} incidents: "
        f"{did.replace('{n}', str(total))} ({by_type or 'none'}); {', '.join(counted)}"
    )


def _dicts(events: Iterator[EventBase]) -> Iterator[dict[str, object]]:
    for event in events:
        yield event.model_dump(mode="json", exclude_none=True)


@contextmanager
def _reading(
    file: Path, console: Console, doing: str
) -> Iterator[tuple[IO[bytes], Progressed | None]]:
    """The file opened for reading, and a callback advancing a progress bar (None: no bar)."""
    size = file.stat().st_size
    with file.open("rb") as stream:
        if not console.is_terminal or size < PROGRESS_FROM_BYTES:
            yield stream, None
            return
        columns = (
            TextColumn(f"{doing} {file.name}"), BarColumn(), DownloadColumn(),
            TimeRemainingColumn(),
        )  # fmt: skip
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task(doing, total=size)
            yield stream, lambda n: bar.advance(task, n)
