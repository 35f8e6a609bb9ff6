"""The Incident aggregate: one customer-service incident as facts kept in event-time order."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any, TypeVar

from eventsourcing.domain import (
    BaseAggregate,
    CanInitAggregate,
    CanMutateAggregate,
    MetaDomainEvent,
    datetime_now_with_tzinfo,
)
from eventsourcing.utils import get_topic

from domain import errors
from domain.event_identity import claim, settle
from domain.fact import Fact
from domain.lifecycle import BEGINNING, Entry, State, check_timeline, step
from domain.timeline import arrange


class IncidentEvent(CanMutateAggregate[str], metaclass=MetaDomainEvent):
    """Base of the incident's stored events: string ids (the upstream incident_id)."""

    originator_id: str
    originator_version: int
    timestamp: datetime


class Incident(BaseAggregate[str]):
    """An incident (or a standalone thanks contact) and everything that happened to it.

    Facts may arrive in any order across topics; the aggregate keeps them in timeline order
    (``domain.timeline``) and admits a fact only if the whole timeline still obeys the
    lifecycle rules.
    """

    TOPIC = "incident.v1"

    class Event(IncidentEvent):
        """Attributes every incident event carries; instants are RFC 3339 strings with offset.

        Version 2 added ``digest``, the content digest of the message that carried the
        event (DESIGN §2: one event_id, one body); version-1 events read back with None.
        Version 3 added ``sequence`` (the source's change counter) and where the event
        arrived (``arrival_stream``, ``arrival_position``: a Kafka ``topic:partition`` and
        offset), which order facts of one instant; older events read back with None.
        """

        class_version = 3
        KIND = ""  # the kind of fact (domain.fact.KINDS) the event records

        event_id: str
        occurred_at: str
        source: str
        digest: str | None
        sequence: int | None
        arrival_stream: str | None
        arrival_position: int | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["digest"] = None

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state.update(sequence=None, arrival_stream=None, arrival_position=None)

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
        KIND = "received"
        channel: str
        department: str
        category: str
        reported_at: str | None
        store: str | None
        priority: str
        # Personal data, sealed (consumers.personal_data); plaintext in events stored
        # before encryption, until `customer encrypt-existing`.
        customer_name: str | None
        customer_phone: str | None
        customer_email: str | None
        # Version 4 added the pseudonymous customer key (domain.customer_key); events of
        # version 3 read back with None.
        customer_key: str | None
        class_version = 4

        @staticmethod
        def upcast_v3_v4(state: dict[str, Any]) -> None:
            state["customer_key"] = None
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
        KIND = "thanked"
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
        KIND = "escalated"
        escalated_to: str
        reason: str | None

    class Resolved(Event):
        TOPIC = "incident.resolved.v1"
        KIND = "resolved"
        resolution: str
        root_cause: str | None
        completed_at: str | None

    class Thanked(Event):
        TOPIC = "incident.thanked.v1"
        KIND = "thanked"
        channel: str
        standalone: bool
        department: str | None
        praised: str | None

    class Reopened(Event):
        TOPIC = "incident.reopened.v1"
        KIND = "reopened"
        reason: str | None

    class Paused(Event):
        TOPIC = "incident.paused.v1"
        KIND = "paused"
        reason: str | None

    class Resumed(Event):
        TOPIC = "incident.resumed.v1"
        KIND = "resumed"

    class Rated(Event):
        TOPIC = "incident.rated.v1"
        KIND = "rated"
        rating: str
        comment: str | None

    class Reassigned(Event):
        TOPIC = "incident.reassigned.v1"
        KIND = "reassigned"
        department: str
        assignee: str | None
        reason: str | None

    class Reclassified(Event):
        TOPIC = "incident.reclassified.v1"
        KIND = "reclassified"
        priority: str | None
        category: str | None
        channel: str | None

    class Closed(Event):
        TOPIC = "incident.closed.v1"
        KIND = "closed"
        reason: str | None

    def __init__(self) -> None:
        self.timeline: list[Entry] = []
        # Whether no two entries of the timeline share an instant, and the lifecycle state
        # after its last entry (None: not known): a check of facts later than all of them
        # then steps on from there instead of arranging and checking everything again.
        self._untied = True
        self._end_state: State | None = BEGINNING
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
    def begin(cls, fact: Fact, timestamp: datetime | None = None) -> Incident:
        """Open an incident's stream with a `received` fact or a standalone thanks.

        ``timestamp`` is when the event is recorded (default: now).

        Raises:
            IncidentNotReceived: when the fact cannot begin a stream.
        """
        if not fact.begins_stream:
            raise errors.IncidentNotReceived(
                f"{fact.kind} for an incident not received yet", event_id=fact.event_id
            )
        event_class = cls.Received if fact.kind == "received" else cls.ThankedStandalone
        created = _new_event(
            event_class, fact, Incident.INITIAL_VERSION, timestamp or datetime_now_with_tzinfo()
        )
        incident = created.mutate(None)
        assert isinstance(incident, Incident)
        incident._pending_events.append(created)
        return incident

    def record(
        self, facts: Iterable[Fact], timestamp: datetime | None = None
    ) -> dict[Fact, errors.DomainError]:
        """Record every admissible fact; repeats of a recorded event are ignored.

        Returns the facts that were not admitted, each with the rule it would break.
        A set of facts that is valid together is admitted together, whatever order
        they arrived in (a late `reopened` makes an early second `resolved` valid).
        The first fact to arrive with an event id claims it: a later one with the same
        body is a duplicate (ignored), with a different body an ``EventIdConflict``.
        ``timestamp`` is when the events are recorded (default: now).
        """
        rejected: dict[Fact, errors.DomainError] = {}
        waiting = list(facts)
        now = timestamp or datetime_now_with_tzinfo()  # one instant for the events recorded together
        while waiting:
            first, later = claim(waiting, self.digests, rejected)
            admitted, refused = self._admit(sorted(first.values(), key=lambda f: f.sort_key))
            for fact in admitted:
                self._trigger(_EVENT_CLASS[fact.kind], now, fact)
            rejected.update(refused)
            waiting = settle(later, first, refused, rejected)
        return rejected

    @property
    def status(self) -> str:
        """`open`, `paused`, `resolved`, `closed`, or `thanks` for a standalone thanks contact."""
        if self.kind == "thanks":
            return "thanks"
        state = "open"
        for entry in self.timeline:
            if entry.kind in ("resolved", "closed"):
                state = entry.kind
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
        entries = list(map(_entry_of_fact, facts))
        if not self._follow(entries):
            check_timeline(arrange([*self.timeline, *entries]))

    def _follow(self, entries: Sequence[Entry]) -> bool:
        """Whether ``entries``, each later than the one before and the first later than the
        timeline, keep a timeline without ties valid: then ``arrange`` of all of them is the
        timeline followed by the entries (no two share an instant), and checking it steps
        through the timeline to the state kept after it. False: check everything."""
        state = self._end_state
        if not self._untied or state is None:
            return False
        last = self.timeline[-1].occurred_at if self.timeline else None
        try:
            for entry in entries:
                if last is not None and entry.occurred_at <= last:
                    return False
                last = entry.occurred_at
                state = step(state, entry)
        except errors.DomainError:
            return False
        return True

    def _trigger(self, event_class: type[Incident.Event], timestamp: datetime, fact: Fact) -> None:
        """``trigger_event`` without its per-call generality (hot path): the same event,
        applied the same way, appended to the pending events."""
        version = self._version + 1
        event = _new_event(event_class, fact, version, timestamp)
        if type(event).apply is Incident.Event.apply:
            # What apply() does, with the entry made from the fact (no instant to parse back).
            self._add_entry(event, _entry_of_fact(fact))
        else:
            event.apply(self)
        self._version = version
        self._modified_on = timestamp
        self._pending_events.append(event)

    def _add_entry(self, event: Incident.Event, entry: Entry | None = None) -> None:
        """Put the event's entry (``entry_of(event)`` unless given) on the timeline."""
        entry = entry or entry_of(event)
        if self.timeline and entry.occurred_at <= self.timeline[-1].occurred_at:
            self.timeline = arrange([*self.timeline, entry])
            self._untied = all(a.occurred_at != b.occurred_at for a, b in pairwise(self.timeline))
            self._end_state = _state_after(self.timeline)
        else:  # the common case: a fact later than every other
            self.timeline.append(entry)
            if self._end_state is not None:
                self._end_state = _step_or_none(self._end_state, entry)
        self.digests[event.event_id] = event.digest


def _event_classes(base: type[Incident.Event]) -> Iterator[type[Incident.Event]]:
    for cls in base.__subclasses__():
        yield cls
        yield from _event_classes(cls)


# Every stored event class that records a fact, by its kind (beginnings excepted: they are
# chosen by Incident.begin); derived from the classes' KIND, the one place a kind is named.
EVENT_CLASSES: tuple[type[Incident.Event], ...] = tuple(
    cls for cls in _event_classes(Incident.Event) if cls.KIND
)
_EVENT_CLASS: dict[str, type[Incident.Event]] = {
    cls.KIND: cls for cls in EVENT_CLASSES if not issubclass(cls, Incident.Created)
}
_INCIDENT_TOPIC = get_topic(Incident)
_E = TypeVar("_E", bound=Incident.Event)
# The attributes every event of ours begins with (the library's, then ours), in dataclass order.
_LEADING_FIELDS = (
    "originator_id", "originator_version", "timestamp", "event_id", "occurred_at", "source",
    "digest", "sequence", "arrival_stream", "arrival_position",
)  # fmt: skip
# Per event class, the attributes after those (a beginning's originator_topic, then the
# details of its kind), in dataclass order: the order __init__ sets them, so the stored order.
# Also whether none of them needs more than a copy (no originator_topic, no instant).
_DETAIL_FIELDS: dict[type[Incident.Event], tuple[tuple[str, ...], frozenset[str], bool]] = {}


def _detail_fields(
    event_class: type[Incident.Event],
) -> tuple[tuple[str, ...], frozenset[str], bool]:
    known = _DETAIL_FIELDS.get(event_class)
    if known is None:
        names = tuple(f.name for f in dataclasses.fields(event_class))  # type: ignore[arg-type]
        if names[: len(_LEADING_FIELDS)] != _LEADING_FIELDS:
            raise TypeError(f"{event_class} does not begin with {_LEADING_FIELDS}")
        rest = names[len(_LEADING_FIELDS) :]
        details = tuple(n for n in rest if n != "originator_topic")
        plain = not {"originator_topic", *_INSTANT_DETAILS} & set(rest)
        known = _DETAIL_FIELDS[event_class] = (rest, frozenset(details), plain)
    return known


def _new_event(event_class: type[_E], fact: Fact, version: int, timestamp: datetime) -> _E:
    """The event of ``fact`` that ``event_class(originator_id=…, …, **details)`` builds (the
    same attributes in the same order), without the frozen dataclass's one
    ``object.__setattr__`` per attribute. Stored events hold primitives: instants become
    RFC 3339 strings with their offset.

    Raises:
        TypeError: when the fact's details are not exactly the event's detail attributes
            (as the dataclass's __init__ would).
    """
    rest, details, plain = _detail_fields(event_class)
    given = fact.details
    if given.keys() != details:
        missing, unexpected = sorted(details - given.keys()), sorted(given.keys() - details)
        raise TypeError(
            f"Can't construct event {event_class}: missing {missing}, unexpected {unexpected}"
        )
    arrival = fact.arrival
    event = object.__new__(event_class)
    state = event.__dict__
    state["originator_id"] = fact.incident_id
    state["originator_version"] = version
    state["timestamp"] = timestamp
    state["event_id"] = fact.event_id
    state["occurred_at"] = fact.occurred_at.isoformat()
    state["source"] = fact.source
    state["digest"] = fact.digest
    state["sequence"] = fact.sequence
    state["arrival_stream"] = arrival[0] if arrival else None
    state["arrival_position"] = arrival[1] if arrival else None
    if plain:  # nothing but primitives to copy
        for name in rest:
            state[name] = given[name]
        return event
    for name in rest:
        if name == "originator_topic":
            state[name] = _INCIDENT_TOPIC
        elif name in _INSTANT_DETAILS:
            value = given[name]
            state[name] = value.isoformat() if isinstance(value, datetime) else value
        else:
            state[name] = given[name]
    return event


# The detail attributes that hold instants (every other detail is already a primitive).
_INSTANT_DETAILS = frozenset({"reported_at", "completed_at"})


def entry_of(event: Incident.Event) -> Entry:
    """The timeline entry of a stored event."""
    return Entry(
        datetime.fromisoformat(event.occurred_at), event.KIND, event.event_id, event.source,
        event.sequence, event.arrival_stream, event.arrival_position,
        bool(getattr(event, "standalone", False)),
    )  # fmt: skip


def in_timeline_order(events: Iterable[Incident.Event]) -> list[Incident.Event]:
    """Stored events of one incident, once each, in the order of its timeline."""
    unique = {e.event_id: e for e in events if e.KIND}
    return [unique[entry.event_id] for entry in arrange(map(entry_of, unique.values()))]


def _state_after(timeline: Sequence[Entry]) -> State | None:
    """The lifecycle state after a timeline, or None if it breaks a rule (e.g. stored under
    older rules)."""
    state: State | None = BEGINNING
    for entry in timeline:
        if state is None:
            break
        state = _step_or_none(state, entry)
    return state


def _step_or_none(state: State, entry: Entry) -> State | None:
    try:
        return step(state, entry)
    except errors.DomainError:
        return None


def _latest_before(candidates: list[Fact], event_id: str, timeline: list[Entry]) -> Fact:
    clash = next((e for e in timeline if e.event_id == event_id), None)
    earlier = [f for f in candidates if clash is None or f.occurred_at <= clash.occurred_at]
    return max(earlier or candidates, key=lambda f: f.sort_key)


def _entry_of_fact(fact: Fact) -> Entry:
    stream, position = fact.arrival or (None, None)
    return Entry(
        fact.occurred_at, fact.kind, fact.event_id, fact.source, fact.sequence, stream, position,
        bool(fact.details.get("standalone")),
    )  # fmt: skip
