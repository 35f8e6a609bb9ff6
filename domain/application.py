"""The Incidents application: records batches of facts on Incident aggregates."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    LRUCache,
    project_aggregate,
)
from eventsourcing.domain import DomainEventProtocol, datetime_now_with_tzinfo
from eventsourcing.persistence import StoredEvent

from domain import errors
from domain.event_identity import claim, settle
from domain.fact import Fact
from domain.incident import Incident

# Aggregates kept in memory by the ingest process: the incidents still being worked on. The
# bound keeps consume's memory flat in the number of incidents (an incident evicted is read
# back from the store when a late fact of it arrives).
CACHE_SIZE = 20_000


@runtime_checkable
class SelectsManyStreams(Protocol):
    """A recorder that can read the events of many aggregates in one query."""

    def select_events_of(self, originator_ids: Sequence[str]) -> dict[str, list[StoredEvent]]:
        """Stored events of each id that has any, in version order."""


@dataclass
class Decision:
    """What recording a batch of facts decided, before anything is saved."""

    incidents: list[Incident] = field(default_factory=list)
    rejected: list[tuple[Fact, errors.DomainError]] = field(default_factory=list)
    duplicates: int = 0
    # The version each incident served from the cache had when the decision began: another
    # writer (a group member) may have stored more of it since (see Incidents.stale).
    cached: dict[str, int] = field(default_factory=dict)


class Incidents(Application[str]):
    """Customer Service's incidents, event-sourced, keyed by the upstream incident id."""

    name = "Incidents"
    env: ClassVar[dict[str, str]] = {
        "ORIGINATOR_ID_TYPE": "text",
        # The ingest process is the writer of its incidents: a cached aggregate is trusted
        # (no fast-forward query, no deep copy). A concurrent writer makes the save fail
        # on the version key; the caller then calls forget_cached() and retries.
        "AGGREGATE_CACHE_MAXSIZE": str(CACHE_SIZE),
        "AGGREGATE_CACHE_FASTFORWARD": "n",
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
    }

    def decide(self, facts: Iterable[Fact]) -> Decision:
        """Record a batch of facts on their incidents (in memory; call save_decision to store).

        Facts that cannot be recorded come back in ``Decision.rejected`` with the domain
        error naming the rule they break (``EventIdConflict`` for an event id that names
        another body); duplicates (an event id again with the same body) are only counted.
        Within a group the first fact to arrive with an event id claims it, so a caller
        lists waiting (parked) facts before new ones.
        """
        decision = Decision()
        groups = _by_incident(facts)
        known = self.find_many(list(groups), cached=decision.cached)
        now = datetime_now_with_tzinfo()  # the events of one decision are recorded together
        for incident_id, group in groups.items():
            incident = known.get(incident_id)
            if incident is None:
                incident, group = self._begin(group, decision, now)
                if incident is None:
                    continue
            before = len(incident.pending_events)
            rejected = incident.record(group, now)
            admitted = len(incident.pending_events) - before
            decision.duplicates += len(group) - admitted - len(rejected)
            decision.rejected.extend(rejected.items())
            if incident.pending_events:
                decision.incidents.append(incident)
        return decision

    def save_decision(self, decision: Decision, **kwargs: Any) -> int:
        """Store the new events of a decision in one transaction; return how many.

        ``kwargs`` reach the recorder in the same transaction (e.g. consumed offsets).
        """
        new_events = [e for incident in decision.incidents for e in incident.collect_events()]
        self.events.put(new_events, **kwargs)
        cache = self.repository.cache
        if cache is not None:
            for incident in decision.incidents:
                cache.put(incident.id, incident)
        return len(new_events)

    def find(self, incident_id: str) -> Incident | None:
        """The incident with this id, or None if its stream has not begun."""
        try:
            incident: Incident = self.repository.get(incident_id)
        except AggregateNotFoundError:
            return None
        return incident

    def find_many(
        self, incident_ids: Sequence[str], cached: dict[str, int] | None = None
    ) -> dict[str, Incident]:
        """The incidents among these ids whose streams have begun (cache first, then one query).

        ``cached`` receives the version of each incident served from the cache.
        """
        cache = self.repository.cache
        if cache is None or not isinstance(self.recorder, SelectsManyStreams):
            found = {i: self.find(i) for i in incident_ids}
            return {i: incident for i, incident in found.items() if incident is not None}
        known: dict[str, Incident] = {}
        missing = []
        for incident_id in incident_ids:
            try:
                hit: Incident = cache.get(incident_id)  # type: ignore[assignment]
            except KeyError:
                missing.append(incident_id)
                continue
            known[incident_id] = hit
            if cached is not None:
                cached[incident_id] = hit.version
        if missing:
            for incident_id, stored in self.recorder.select_events_of(missing).items():
                incident = project_aggregate(None, map(self.mapper.to_domain_event, stored))
                assert isinstance(incident, Incident)
                cache.put(incident_id, incident)
                known[incident_id] = incident
        return known

    def history(self, incident_id: str) -> list[DomainEventProtocol[str]]:
        """The incident's stored events in recorded order (empty if unknown)."""
        return list(self.events.get(incident_id))

    def histories(self, incident_ids: Sequence[str]) -> dict[str, list[Incident.Event]]:
        """The stored events of each of these incidents that has any, in version order."""
        if not isinstance(self.recorder, SelectsManyStreams):
            found = {i: self.history(i) for i in incident_ids}
            return {i: events for i, events in found.items() if events}  # type: ignore[misc]
        to_event = self.mapper.to_domain_event
        return {
            incident_id: [to_event(s) for s in stored]  # type: ignore[misc]
            for incident_id, stored in self.recorder.select_events_of(incident_ids).items()
        }

    def events_since(self, notification_id: int, page: int = 10_000) -> Iterator[tuple[int, Incident.Event]]:
        """Every stored incident event after ``notification_id``, with its notification id, in
        the order the store recorded them (read page by page)."""
        start = notification_id + 1
        while notifications := self.recorder.select_notifications(start=start, limit=page):
            for notification in notifications:
                event = self.mapper.to_domain_event(notification)
                if isinstance(event, Incident.Event):
                    yield notification.id, event
            start = notifications[-1].id + 1

    def stale(self, versions: dict[str, int]) -> set[str]:
        """The incidents among these (id → version) of which the store holds a later version."""
        if not isinstance(self.recorder, SelectsManyStreams):
            return {i for i, version in versions.items() if len(self.history(i)) > version}
        stored = self.recorder.select_events_of(list(versions))
        return {i for i, events in stored.items() if events[-1].originator_version > versions[i]}

    def forget_cached(self, incident_ids: Iterable[str] | None = None) -> None:
        """Drop cached aggregates (these, or all), e.g. after a failed save left them ahead
        of the store or another writer stored more of them."""
        cache = self.repository.cache
        if not isinstance(cache, LRUCache):
            return
        if incident_ids is None:
            self.repository.cache = LRUCache(maxsize=cache.maxsize)
            return
        for incident_id in incident_ids:
            try:
                cache.get(incident_id, evict=True)
            except KeyError:
                pass

    def _begin(
        self, group: list[Fact], decision: Decision, timestamp: datetime
    ) -> tuple[Incident | None, list[Fact]]:
        # The first to arrive begins the stream, as it would had it come in a batch of its
        # own: a stored beginning cannot be replaced by an earlier one arriving later.
        beginners = [f for f in group if f.begins_stream]
        if not beginners:
            rejected: dict[Fact, errors.DomainError] = {}
            claims, later = claim(group, {}, rejected)
            waiting: dict[Fact, errors.DomainError] = {
                fact: errors.IncidentNotReceived(
                    f"{fact.kind} for an incident not received yet", event_id=fact.event_id
                )
                for fact in claims.values()
            }
            settle(later, claims, waiting, rejected)
            decision.rejected.extend({**waiting, **rejected}.items())
            decision.duplicates += len(group) - len(waiting) - len(rejected)
            return None, []
        first = beginners[0]
        return Incident.begin(first, timestamp), [f for f in group if f is not first]


def _by_incident(facts: Iterable[Fact]) -> dict[str, list[Fact]]:
    groups: dict[str, list[Fact]] = {}
    for fact in facts:
        groups.setdefault(fact.incident_id, []).append(fact)
    return groups

