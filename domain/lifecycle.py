"""The lifecycle rules: which sequences of facts, in timeline order, an incident may have."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import NamedTuple

from domain import errors


class Entry(NamedTuple):
    """One recorded fact on an incident's timeline, with what orders it among the others.

    ``sequence`` is the source's change counter (None: unknown); ``stream`` and ``position``
    say where it arrived (None: not through an ordered stream).
    """

    occurred_at: datetime
    kind: str
    event_id: str
    source: str = ""
    sequence: int | None = None
    stream: str | None = None
    position: int | None = None
    standalone: bool = False


class State(NamedTuple):
    """Where an incident's lifecycle stands after some of its facts (built positionally in the
    rules below: they run for every fact of every check, and ``_replace`` is slow)."""

    begun: bool = False
    thanks_only: bool = False  # the stream is a standalone thanks contact
    resolved: bool = False
    closed: bool = False
    paused: bool = False
    ever_resolved: bool = False


BEGINNING = State()


def check_timeline(entries: Sequence[Entry]) -> None:
    """Check an incident's facts, in timeline order, against the lifecycle rules.

    Raises:
        DomainError: the subclass naming the first rule broken, with that fact's event id.
    """
    state = BEGINNING
    for entry in entries:
        state = step(state, entry)


def step(state: State, entry: Entry) -> State:
    """The state after ``entry``.

    Raises:
        DomainError: the subclass naming the rule ``entry`` breaks in ``state``.
    """
    kind, event_id = entry.kind, entry.event_id
    if not state.begun:
        if kind == "received" or (kind == "thanked" and entry.standalone):
            return State(begun=True, thanks_only=kind == "thanked")
        raise errors.BeforeReceipt(
            f"{kind} happened before the incident was received", event_id=event_id
        )
    if kind == "received":
        raise errors.AlreadyReceived("the incident was already received", event_id=event_id)
    if state.thanks_only:
        raise errors.StandaloneThanksIsClosed(
            f"{kind} on a standalone thanks contact", event_id=event_id
        )
    if kind == "thanked":
        if entry.standalone:
            raise errors.AlreadyReceived(
                "standalone thanks on an existing incident", event_id=event_id
            )
        return state
    return _RULES[kind](state, event_id)


def _escalated(state: State, event_id: str) -> State:
    if state.resolved:
        raise errors.EscalatedAfterResolution(
            "escalated after resolution without reopening", event_id=event_id
        )
    return state


def _resolved(state: State, event_id: str) -> State:
    if state.resolved:
        raise errors.AlreadyResolved("resolved twice without reopening", event_id=event_id)
    return State(True, False, True, state.closed, False, True)


def _closed(state: State, event_id: str) -> State:
    if state.closed:
        raise errors.AlreadyClosed("closed twice without reopening", event_id=event_id)
    if not state.resolved:
        raise errors.ClosedWhileOpen("closed before it was resolved", event_id=event_id)
    return State(True, False, state.resolved, True, state.paused, state.ever_resolved)


def _reopened(state: State, event_id: str) -> State:
    if not state.resolved:
        raise errors.NotResolved("reopened while not resolved", event_id=event_id)
    return State(True, False, False, False, state.paused, state.ever_resolved)


def _paused(state: State, event_id: str) -> State:
    if state.resolved:
        raise errors.PausedWhileResolved("paused after resolution", event_id=event_id)
    if state.paused:
        raise errors.AlreadyPaused("paused while already paused", event_id=event_id)
    return State(True, False, state.resolved, state.closed, True, state.ever_resolved)


def _resumed(state: State, event_id: str) -> State:
    if not state.paused:
        raise errors.NotPaused("resumed while not paused", event_id=event_id)
    return State(True, False, state.resolved, state.closed, False, state.ever_resolved)


def _rated(state: State, event_id: str) -> State:
    if not state.ever_resolved:
        raise errors.RatedBeforeResolution("rated before any resolution", event_id=event_id)
    return state


def _changed_while_not_closed(what: str) -> Callable[[State, str], State]:
    # Re-routing or correcting an incident is allowed while it is open or resolved: it does
    # not reopen it. A closed incident is final until it is reopened.
    def rule(state: State, event_id: str) -> State:
        if state.closed:
            raise errors.IncidentClosed(f"{what} after it was closed", event_id=event_id)
        return state

    return rule


_RULES = {
    "escalated": _escalated,
    "resolved": _resolved,
    "closed": _closed,
    "reopened": _reopened,
    "paused": _paused,
    "resumed": _resumed,
    "rated": _rated,
    "reassigned": _changed_while_not_closed("reassigned"),
    "reclassified": _changed_while_not_closed("reclassified"),
}
