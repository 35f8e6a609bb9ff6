"""Riding out broker and database outages: capped, jittered exponential backoff, then give up."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog
from eventsourcing.persistence import InterfaceError, OperationalError
from kafka.errors import KafkaError
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_delay,
    wait_exponential_jitter,
)

from consumers.errors import BrokerUnavailable, GaveUp

log = structlog.get_logger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class OutagePolicy:
    """How long and how patiently to retry an operation that failed for a transient reason."""

    # An outage longer than this (seconds since the operation first failed) ends the process.
    give_up_after: float = 300.0
    first_delay: float = 0.5
    max_delay: float = 30.0


def is_transient(err: BaseException) -> bool:
    """Whether ``err`` says the broker or the database is (for now) out of reach."""
    if isinstance(err, BrokerUnavailable | OperationalError | InterfaceError):
        return True
    return isinstance(err, KafkaError) and bool(err.retriable)


def ride_out(
    operation: Callable[[], T],
    policy: OutagePolicy,
    *,
    doing: str,
    recover: Callable[[], object] | None = None,
    transient: Callable[[BaseException], bool] = is_transient,
) -> T:
    """Run ``operation``; while it fails transiently, log, back off and run it again.

    ``recover`` runs before every retry, inside the same attempt (its own transient
    failures are retried too): it re-reads whatever the failure may have left stale,
    e.g. positions from the event store. Errors that ``transient`` does not accept propagate
    at once, unchanged.

    Raises:
        GaveUp: when the operation has kept failing for ``policy.give_up_after`` seconds.
    """
    retrying = Retrying(
        retry=retry_if_exception(transient),
        wait=wait_exponential_jitter(
            initial=policy.first_delay, max=policy.max_delay, jitter=policy.first_delay
        ),
        stop=stop_after_delay(policy.give_up_after),
        before_sleep=_log_retry(doing),
    )
    started = time.monotonic()
    attempts = 0

    def attempt() -> T:
        nonlocal attempts
        attempts += 1
        if recover is not None and attempts > 1:
            recover()
        return operation()

    try:
        result = retrying(attempt)
    except RetryError as gave_up:
        err = gave_up.last_attempt.exception()
        raise GaveUp(
            f"gave up {doing.replace('_', ' ')} after {time.monotonic() - started:.0f} s"
            f" of outage: {_describe(err)}"
        ) from err
    if attempts > 1:
        log.info(
            "outage_recovered", doing=doing, attempts=attempts,
            seconds=round(time.monotonic() - started, 1),
        )
    return result


def _log_retry(doing: str) -> Callable[[RetryCallState], None]:
    def log_retry(state: RetryCallState) -> None:
        err = state.outcome.exception() if state.outcome else None
        log.warning(
            "outage_retry_scheduled",
            doing=doing,
            error=type(err).__name__,
            detail=_describe(err),
            attempt=state.attempt_number,
            next_delay=round(state.next_action.sleep if state.next_action else 0.0, 2),
            outage_seconds=round(state.seconds_since_start or 0.0, 1),
        )

    return log_retry


def _describe(err: BaseException | None) -> str:
    text = " ".join(str(err).split())[:300]
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
