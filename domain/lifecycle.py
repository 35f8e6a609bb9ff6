"""The lifecycle rules: which sequences of facts, in event-time order, an incident may have."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from domain import errors


class Entry(NamedTuple):
    """One recorded fact on an incident's timeline; entries sort in event-time order."""

    occurred_at: datetime
    rank: int
    event_id: str
    kind: str
    standalone: bool = False


def check_timeline(entries: Sequence[Entry]) -> None:
    """Check an incident's facts, sorted by event time, against the lifecycle rules.

    Raises:
        DomainError: the subclass naming the first rule broken, with that fact's event id.
    """
    resolved = paused = False
    ever_resolved = False
    for index, entry in enumerate(entries):
        kind, event_id = entry.kind, entry.event_id
        if index == 0:
            if kind == "received" or (kind == "thanked" and entry.standalone):
                continue
            raise errors.BeforeReceipt(
                f"{kind} happened before the incident was received", event_id=event_id
            )
        if kind == "received":
            raise errors.AlreadyReceived("the incident was already received", event_id=event_id)
        if entries[0].kind == "thanked":
            raise errors.StandaloneThanksIsClosed(
                f"{kind} on a standalone thanks contact", event_id=event_id
            )
        if kind == "thanked" and entry.standalone:
            raise errors.AlreadyReceived(
                "standalone thanks on an existing incident", event_id=event_id
            )
        if kind == "escalated" and resolved:
            raise errors.EscalatedAfterResolution(
                "escalated after resolution without reopening", event_id=event_id
            )
        if kind == "resolved":
            if resolved:
                raise errors.AlreadyResolved(
                    "resolved twice without reopening", event_id=event_id
                )
            resolved, paused, ever_resolved = True, False, True
        elif kind == "reopened":
            if not resolved:
                raise errors.NotResolved("reopened while not resolved", event_id=event_id)
            resolved = False
        elif kind == "paused":
            if resolved:
                raise errors.PausedWhileResolved("paused after resolution", event_id=event_id)
            if paused:
                raise errors.AlreadyPaused("paused while already paused", event_id=event_id)
            paused = True
        elif kind == "resumed":
            if not paused:
                raise errors.NotPaused("resumed while not paused", event_id=event_id)
            paused = False
        elif kind == "rated" and not ever_resolved:
            raise errors.RatedBeforeResolution("rated before any resolution", event_id=event_id)
