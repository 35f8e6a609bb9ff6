"""The consume loop: poll a batch, ingest it, publish its dead letters, until drained or stopped."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from consumers.dead_letter_topic import DeadLetterOutbox
from consumers.ingest import BatchResult, Ingest
from consumers.kafka_source import KafkaSource
from consumers.outage import OutagePolicy, ride_out

log = structlog.get_logger(__name__)

# Offsets live in the event store; the broker's copy is only for lag tools.
COMMIT_INTERVAL_SECONDS = 1.0


@dataclass
class ConsumeTotals(BatchResult):
    """What a consume run did: its batches' counts summed, and where the time went."""

    batches: int = 0
    seconds: float = 0.0
    poll_seconds: float = 0.0
    first_message_after: float = 0.0
    ingest_seconds: float = 0.0

    def add(self, result: BatchResult) -> None:
        """Add one batch's counts."""
        self.batches += 1
        for name in BatchResult.__dataclass_fields__:
            if name != "reasons":
                setattr(self, name, getattr(self, name) + getattr(result, name))
        for reason, count in result.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + count


def consume(
    source: KafkaSource,
    ingest: Ingest,
    dead_letters: DeadLetterOutbox,
    *,
    once: bool,
    should_stop: Callable[[], bool] = lambda: False,
    outage: OutagePolicy = OutagePolicy(),
    progressed: Callable[[int], None] = lambda n: None,
) -> ConsumeTotals:
    """Run the ingest loop.

    With ``once`` it returns when the event store has applied every partition up to its end
    (whichever group member applied it); otherwise it runs
    until ``should_stop()`` is true, always finishing the batch in hand first.
    ``progressed`` is told how many messages each batch held.

    Broker and database outages are ridden out (see ``outage``): a failed poll re-seeks
    every partition to the store's position, a failed batch is applied again from the
    store's state, so nothing is lost or applied twice.

    Raises:
        GaveUp: when an outage lasts longer than ``outage.give_up_after``.
    """
    # Batches create many long-lived objects (cached aggregates): collect less often.
    gc.set_threshold(200_000, 50, 1000)
    totals = ConsumeTotals()
    started = committed = time.perf_counter()
    publish_letters = dead_letters.publish_pending

    def read_to_end() -> bool:
        return source.read_to_end(ingest.store.stored_offsets)

    log.info("consume_started", member=ingest.member)
    ride_out(publish_letters, outage, doing="publishing_dead_letters")
    while not should_stop():
        polled = time.perf_counter()
        messages = ride_out(source.poll, outage, doing="polling_kafka", recover=source.reseek)
        totals.poll_seconds += time.perf_counter() - polled
        if messages:
            if not totals.batches:
                totals.first_message_after = time.perf_counter() - started
            ingested = time.perf_counter()
            log.debug("batch_started", messages=len(messages))
            result = ride_out(
                lambda: ingest.process(messages, read_to_end), outage,
                doing="storing_a_batch", recover=ingest.reload,
            )
            totals.add(result)
            progressed(len(messages))
            if time.perf_counter() - committed > COMMIT_INTERVAL_SECONDS:
                source.commit(ingest.positions)
                committed = time.perf_counter()
            if result.dead_lettered:
                ride_out(publish_letters, outage, doing="publishing_dead_letters")
            totals.ingest_seconds += time.perf_counter() - ingested
            log.debug("batch_ingested", messages=result.messages, applied=result.applied)
        else:
            if _expire_when_idle(ingest, read_to_end, totals, outage):
                ride_out(publish_letters, outage, doing="publishing_dead_letters")
            if once and ride_out(
                lambda: source.drained(ingest.store.stored_offsets), outage,
                doing="checking_the_end",
            ):
                # Whatever the batches were, the run ends with every old parked event expired.
                if _expire_when_idle(ingest, read_to_end, totals, outage):
                    ride_out(publish_letters, outage, doing="publishing_dead_letters")
                break
    source.commit(ingest.positions)
    totals.seconds = time.perf_counter() - started
    log.info(
        "consume_finished",
        batches=totals.batches,
        messages=totals.messages,
        applied=totals.applied,
        dead_lettered=totals.dead_lettered,
    )
    return totals


def _expire_when_idle(
    ingest: Ingest, read_to_end: Callable[[], bool], totals: ConsumeTotals, outage: OutagePolicy
) -> bool:
    """With nothing to read, once all is read: try every parked event again (another group
    member may have stored what it waits for) and expire those that are old enough.

    Returns whether dead letters were stored (to be published).
    """
    ride_out(ingest.refresh_stream_times, outage, doing="reading_stream_times")
    if not ingest.parked:
        return False
    result = ride_out(
        lambda: ingest.process([], read_to_end), outage, doing="expiring_parked_events",
        recover=ingest.reload,
    )
    if result.dead_lettered or result.unparked or result.applied:
        totals.add(result)
    return result.dead_lettered > 0
