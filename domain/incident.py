"""The Incident aggregate: one customer-service incident as facts kept in event-time order."""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from eventsourcing.domain import (
    BaseAggregate,
    CanInitAggregate,
    CanMutateAggregate,
    MetaDomainEvent,
)

from domain import errors
from domain.event_identity import claim, settle
from domain.fact import RANK, Fact
from domain.lifecycle import Entry, check_timeline


class IncidentEvent(CanMutateAggregate[str], metaclass=MetaDomainEvent):
    """Base of the incident's stored events: string ids (the upstream incident_id)."""

    originator_id: str
    originator_version: int
    timestamp: datetime


class Incident(BaseAggregate[str]):
    """An incident (or a standalone thanks contact) and everything that happened to it.

    Facts may arrive in any order across topics; the aggregate keeps them sorted by event
    time and admits a fact only if the whole timeline still obeys the lifecycle rules.
    """

    TOPIC = "incident.v1"

    class Event(IncidentEvent):
        """Attributes every incident event carries; instants are RFC 3339 strings with offset.

        Version 2 added ``digest``, the content digest of the message that carried the
        event (DESIGN §2: one event_id, one body); version-1 events read back with None.
        """

        class_version = 2

        event_id: str
        occurred_at: str
        source: str
        digest: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["digest"] = None

        def apply(self, aggregate: BaseAggregate[str]) -> None:
            assert isinstance(aggregate, Incident)
            aggregate._add_entry(self)

    class Created(Event, CanInitAggregate[str]):
        TOPIC = "incident.created.v1"
        originator_topic: str

        # The library types mutate() with a type variable that a concrete override cannot match.
        def mutate(  # type: ignore[override]
            self, aggregate: BaseAggregate[str] | None
        ) -> BaseAggregate[str] | None:
            # The library's generic version inspects __init__ signatures on every call;
            # an Incident's __init__ takes nothing, so build it directly (hot path).
            assert aggregate is None
            incident = Incident.__new__(Incident)
            incident.__base_init__(self.originator_id, self.originator_version, self.timestamp)
            incident.__init__()  # type: ignore[misc]
            self.apply(incident)
            return incident

    class Received(Created):
        TOPIC = "incident.received.v1"
        channel: str
        department: str
        category: str
        reported_at: str | None
        store: str | None
        priority: str
        customer_name: str | None
        customer_phone: str | None
        customer_email: str | None
        summary: str | None

        def apply(self, aggregate: BaseAggregate[str]) -> None:
            assert isinstance(aggregate, Incident)
            super().apply(aggregate)
            aggregate.kind = "incident"
            aggregate.channel = self.channel
            aggregate.department = self.department
            aggregate.category = self.category
            aggregate.priority = self.priority
            aggregate.store = self.store
            aggregate.received_at = datetime.fromisoformat(self.occurred_at)
            aggregate.reported_at = datetime.fromisoformat(self.reported_at or self.occurred_at)

    class ThankedStandalone(Created):
        TOPIC = "incident.thanked_standalone.v1"
        channel: str
        standalone: bool
        department: str | None
        praised: str | None

        def apply(self, aggregate: BaseAggregate[str]) -> None:
            assert isinstance(aggregate, Incident)
            super().apply(aggregate)
            aggregate.kind = "thanks"
            aggregate.channel = self.channel
            aggregate.department = self.department
            aggregate.received_at = aggregate.reported_at = datetime.fromisoformat(self.occurred_at)

    class Escalated(Event):
        TOPIC = "incident.escalated.v1"
        escalated_to: str
        reason: str | None

    class Resolved(Event):
        TOPIC = "incident.resolved.v1"
        resolution: str
        root_cause: str | None
        completed_at: str | None

    class Thanked(Event):
        TOPIC = "incident.thanked.v1"
        channel: str
        standalone: bool
        department: str | None
        praised: str | None

    class Reopened(Event):
        TOPIC = "incident.reopened.v1"
        reason: str | None

    class Paused(Event):
        TOPIC = "incident.paused.v1"
        reason: str | None

    class Resumed(Event):
        TOPIC = "incident.resumed.v1"

    class Rated(Event):
        TOPIC = "incident.rated.v1"
        rating: str
        comment: str | None

    def __init__(self) -> None:
        self.timeline: list[Entry] = []
        # Every recorded event id with the content digest it names (None: unknown).
        self.digests: dict[str, str | None] = {}
        self.kind = "incident"
        self.channel = ""
        self.department: str | None = None
        self.category: str | None = None
        self.priority = "normal"
        self.store: str | None = None
        self.received_at: datetime | None = None
        self.reported_at: datetime | None = None

    @classmethod
    def begin(cls, fact: Fact) -> Incident:
        """Open an incident's stream with a `received` fact or a standalone thanks.

        Raises:
            IncidentNotReceived: when the fact cannot begin a stream.
        """
        if not fact.begins_stream:
            raise errors.IncidentNotReceived(
                f"{fact.kind} for an incident not received yet", event_id=fact.event_id
            )
        event_class = cls.Received if fact.kind == "received" else cls.ThankedStandalone
        return cls._create(event_class, id=fact.incident_id, **_event_kwargs(fact))

    def record(self, facts: Iterable[Fact]) -> dict[Fact, errors.DomainError]:
        """Record every admissible fact; repeats of a recorded event are ignored.

        Returns the facts that were not admitted, each with the rule it would break.
        A set of facts that is valid together is admitted together, whatever order
        they arrived in (a late `reopened` makes an early second `resolved` valid).
        The first fact to arrive with an event id claims it: a later one with the same
        body is a duplicate (ignored), with a different body an ``EventIdConflict``.
        """
        rejected: dict[Fact, errors.DomainError] = {}
        waiting = list(facts)
        while waiting:
            first, later = claim(waiting, self.digests, rejected)
            admitted, refused = self._admit(sorted(first.values(), key=lambda f: f.sort_key))
            for fact in admitted:
                self.trigger_event(_EVENT_CLASS[fact.kind], **_event_kwargs(fact))
            rejected.update(refused)
            waiting = settle(later, first, refused, rejected)
        return rejected

    @property
    def status(self) -> str:
        """`open`, `paused`, `resolved`, or `thanks` for a standalone thanks contact."""
        if self.kind == "thanks":
            return "thanks"
        state = "open"
        for entry in self.timeline:
            if entry.kind == "resolved":
                state = "resolved"
            elif entry.kind in ("reopened", "resumed"):
                state = "open"
            elif entry.kind == "paused":
                state = "paused"
        return state

    def _admit(
        self, candidates: Sequence[Fact]
    ) -> tuple[list[Fact], dict[Fact, errors.DomainError]]:
        """Admit the largest set of candidates that is valid together.

        A rejected candidate is taken out and the rest tried again together, so facts
        that need each other (a `resolved` and the `reopened` before a later `resolved`)
        are not held back by an unrelated invalid one.
        """
        remaining = list(candidates)
        rejected: dict[Fact, errors.DomainError] = {}
        while remaining:
            try:
                self._check_with(remaining)
            except errors.DomainError as err:
                culprit = next((f for f in remaining if f.event_id == err.event_id), None)
                if culprit is None:
                    # The clash shows on a recorded fact: blame the latest candidate before it.
                    culprit = _latest_before(remaining, err.event_id, self.timeline)
                remaining.remove(culprit)
                rejected[culprit] = err
            else:
                break
        return remaining, rejected

    def _check_with(self, facts: Sequence[Fact]) -> None:
        entries = [*self.timeline, *(_entry(f.kind, f.event_id, f.occurred_at, f.details) for f in facts)]
        entries.sort()
        check_timeline(entries)

    def _add_entry(self, event: Incident.Event) -> None:
        kind = _KIND_OF_EVENT[type(event).__name__]
        occurred_at = datetime.fromisoformat(event.occurred_at)
        entry = _entry(kind, event.event_id, occurred_at, event.__dict__)
        insort(self.timeline, entry)
        self.digests[event.event_id] = event.digest


_EVENT_CLASS: dict[str, type[Incident.Event]] = {
    "escalated": Incident.Escalated,
    "resolved": Incident.Resolved,
    "thanked": Incident.Thanked,
    "reopened": Incident.Reopened,
    "paused": Incident.Paused,
    "resumed": Incident.Resumed,
    "rated": Incident.Rated,
}
# The detail attributes that hold instants (every other detail is already a primitive).
_INSTANT_DETAILS = ("reported_at", "completed_at")
_KIND_OF_EVENT = {
    "Received": "received",
    "ThankedStandalone": "thanked",
    **{cls.__name__: kind for kind, cls in _EVENT_CLASS.items()},
}


def _latest_before(candidates: list[Fact], event_id: str, timeline: list[Entry]) -> Fact:
    clash = next((e for e in timeline if e.event_id == event_id), None)
    earlier = [f for f in candidates if clash is None or f.occurred_at <= clash.occurred_at]
    return max(earlier or candidates, key=lambda f: f.sort_key)


def _entry(kind: str, event_id: str, occurred_at: datetime, details: Any) -> Entry:
    return Entry(occurred_at, RANK[kind], event_id, kind, bool(details.get("standalone")))


def _event_kwargs(fact: Fact) -> dict[str, Any]:
    # Stored events hold primitives: instants become RFC 3339 strings with their offset.
    kwargs: dict[str, Any] = {
        "event_id": fact.event_id,
        "occurred_at": fact.occurred_at.isoformat(),
        "source": fact.source,
        "digest": fact.digest,
        **fact.details,
    }
    for name in _INSTANT_DETAILS:
        value = kwargs.get(name)
        if isinstance(value, datetime):
            kwargs[name] = value.isoformat()
    return kwargs
