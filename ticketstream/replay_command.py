"""`replay`: the incident topics re-read into a fresh store (--into) or checked against the
current one (--verify), by a reader of their own that never moves the live group's offsets."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rich.console import Console

from consumers.consume import consume
from consumers.replay import ReplayRange, SuppressedDeadLetters, Verification, stored_facts, verify
from ticketstream import assembly
from ticketstream.errors import TicketstreamError
from ticketstream.event_store import same_location
from ticketstream.progress import progress
from ticketstream.safe_text import shown
from ticketstream.settings import Settings


def parse_moment(text: str, zone: ZoneInfo, option: str) -> datetime:
    """A replay bound: RFC 3339 with an offset, or a local date or date-time in ``zone`` (a
    bare date means the start of that day).

    Raises:
        TicketstreamError: text that is none of these.
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise TicketstreamError(
            f"{option}: '{text}' is not a moment; use RFC 3339 (2025-03-31T18:00:00+03:00),"
            " a local date-time (2025-03-31T18:00) or a date (2025-03-31)"
        ) from None
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=zone)


def replay_into(
    settings: Settings, span: ReplayRange, into: str, embedded: bool, console: Console
) -> str:
    """Rebuild the write side into the fresh store ``into``; return the summary line.

    Raises:
        TicketstreamError: ``into`` is the configured store, or not empty.
    """
    if same_location(into, settings.event_store):
        raise TicketstreamError("--into names the configured event store; replay into a fresh one")
    target = settings.model_copy(update={"event_store": into})
    outage = assembly.outage_policy(settings)
    with assembly.kafka_bootstrap(settings, outage, embedded=embedded) as servers:
        app = assembly.open_incidents(target, outage)
        recorder = assembly.ingest_recorder(app)
        held = app.recorder.max_notification_id() or 0
        if held or recorder.stored_offsets():
            raise TicketstreamError(
                f"{into} already holds {held} events: replay --into needs a fresh store"
            )
        step = assembly.ingest(target, app)
        source = assembly.replay_source(settings, servers, span, step.reload)
        letters = SuppressedDeadLetters(recorder)
        try:
            with progress(console, "replaying", source.expected) as advance:
                totals = consume(source, step, letters, once=True, outage=outage, progressed=advance)
        finally:
            source.close()
        waiting = len(recorder.parked_events())
    return (
        f"replayed {totals.messages} messages ({span.describe()}) into {into}:"
        f" {totals.applied} applied, {totals.duplicates} duplicates,"
        f" {totals.dead_lettered} dead-lettered, {waiting} still parked; side effects suppressed"
        f" during the replay: {letters.suppressed} dead letters recorded in the target store,"
        " none published to the dead-letter topic; the live group's offsets untouched"
    )


def verify_store(settings: Settings, span: ReplayRange, embedded: bool, console: Console) -> Verification:
    """Compare the range of the log with the configured store (a dry run: nothing is written)."""
    outage = assembly.outage_policy(settings)
    with assembly.kafka_bootstrap(settings, outage, embedded=embedded) as servers:
        side = assembly.read_side(settings, outage)  # a dry run: read-only
        settled = assembly.read_only_tables(side).settled_coordinates()
        held = stored_facts(side.reader.app, settings.zone)
        source = assembly.replay_source(settings, servers, span, lambda: {})
        try:
            with progress(console, "verifying", source.expected) as advance:
                return verify(source, held, settled, settings.zone, advance)
        finally:
            source.close()


def verification_lines(result: Verification, span: ReplayRange) -> list[str]:
    """The verification in words: the verdict, then each difference by kind and month."""
    verdict = "they agree" if result.agrees else "they differ"
    lines = [
        f"verified {result.messages} messages ({span.describe()}) against the event store:"
        f" {verdict}; {result.dead_lettered_in_store} held there as dead letters or parked"
    ]
    sections = (
        ("missing", "in the log, not in the store", result.missing),
        ("extra", "in the store, not in the log's range", result.extra),
        ("differing", "same event id, other content", result.differing),
    )
    for key, what, counts in sections:
        if not counts:
            continue
        lines.append(f"{sum(counts.values())} events {what}:")
        for (kind, month), count in sorted(counts.items()):
            lines.append(f"  {kind} {month}: {count}")
        examples = result.examples.get(key, [])
        if examples:
            lines.append(f"  e.g. {', '.join(shown(e) for e in examples)}")
    return lines
