"""Event identity: an event_id names one body; the first message to claim it keeps it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from domain import errors
from domain.fact import Fact


def same_body(claimed: str | None, digest: str | None) -> bool:
    """Whether two content digests may name the same event.

    An unknown digest (an event stored before digests were kept) matches any: old events
    must never turn a re-delivery into a conflict.
    """
    return claimed is None or digest is None or claimed == digest


def conflict(fact: Fact) -> errors.EventIdConflict:
    """The error of a fact whose event id already names a different event."""
    return errors.EventIdConflict(
        f"event_id {fact.event_id} on incident {fact.incident_id} already names an event"
        f" with a different body (this message: {fact.kind} at {fact.occurred_at.isoformat()})",
        event_id=fact.event_id,
    )


def claim(
    facts: Iterable[Fact],
    recorded: Mapping[str, str | None],
    rejected: dict[Fact, errors.DomainError],
) -> tuple[dict[str, Fact], list[Fact]]:
    """Split facts into the first claim of each new event id and the facts after it.

    Facts whose event id is recorded already are settled here: the same body is a
    duplicate (dropped), a different one a conflict (added to ``rejected``).
    Returns (event id → first fact claiming it, later facts with an already claimed id).
    """
    first: dict[str, Fact] = {}
    later: list[Fact] = []
    for fact in facts:
        if fact.event_id in recorded:
            if not same_body(recorded[fact.event_id], fact.digest):
                rejected[fact] = conflict(fact)
        elif first.setdefault(fact.event_id, fact) is not fact:
            later.append(fact)
    return first, later


def settle(
    later: Iterable[Fact],
    first: Mapping[str, Fact],
    refused: Mapping[Fact, errors.DomainError],
    rejected: dict[Fact, errors.DomainError],
) -> list[Fact]:
    """Judge the facts that came after the first claim of their event id.

    A claim that was recorded or is waiting (refused for a fixable reason) keeps its
    event id: a different body is a conflict, the same body a duplicate. A claim refused
    for good holds nothing, so the facts after it are returned to be judged again on
    their own — as they would be had they come in a later batch.
    """
    again: list[Fact] = []
    for fact in later:
        claimant = first[fact.event_id]
        error = refused.get(claimant)
        if error is not None and not error.fixable:
            again.append(fact)
        elif not same_body(claimant.digest, fact.digest):
            rejected[fact] = conflict(fact)
    return again
