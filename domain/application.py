"""The Incidents application: records batches of facts on Incident aggregates."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from eventsourcing.application import AggregateNotFoundError, Application, LRUCache
from eventsourcing.domain import DomainEventProtocol

from domain import errors
from domain.fact import Fact
from domain.incident import Incident


@dataclass
class Decision:
    """What recording a batch of facts decided, before anything is saved."""

    incidents: list[Incident] = field(default_factory=list)
    rejected: list[tuple[Fact, errors.DomainError]] = field(default_factory=list)
    duplicates: int = 0


class Incidents(Application[str]):
    """Customer Service's incidents, event-sourced, keyed by the upstream incident id."""

    name = "Incidents"
    env: ClassVar[dict[str, str]] = {
        "ORIGINATOR_ID_TYPE": "text",
        # The ingest process is the writer of its incidents: a cached aggregate is trusted
        # (no fast-forward query, no deep copy). A concurrent writer makes the save fail
        # on the version key; the caller then calls forget_cached() and retries.
        "AGGREGATE_CACHE_MAXSIZE": "100000",
        "AGGREGATE_CACHE_FASTFORWARD": "n",
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
    }

    def decide(self, facts: Iterable[Fact]) -> Decision:
        """Record a batch of facts on their incidents (in memory; call save() to store).

        Facts that cannot be recorded come back in ``Decision.rejected`` with the domain
        error naming the rule they break; duplicates (known event ids) are only counted.
        """
        decision = Decision()
        for incident_id, group in _by_incident(facts).items():
            incident = self.find(incident_id)
            if incident is None:
                incident, group = self._begin(group, decision)
                if incident is None:
                    continue
            known = sum(1 for fact in group if fact.event_id in incident.event_ids)
            rejected = incident.record(group)
            decision.rejected.extend(rejected.items())
            decision.duplicates += known
            if incident.pending_events:
                decision.incidents.append(incident)
        return decision

    def find(self, incident_id: str) -> Incident | None:
        """The incident with this id, or None if its stream has not begun."""
        try:
            incident: Incident = self.repository.get(incident_id)
        except AggregateNotFoundError:
            return None
        return incident

    def history(self, incident_id: str) -> list[DomainEventProtocol[str]]:
        """The incident's stored events in recorded order (empty if unknown)."""
        return list(self.events.get(incident_id))

    def forget_cached(self) -> None:
        """Drop cached aggregates, e.g. after a failed save left them ahead of the store."""
        cache = self.repository.cache
        if isinstance(cache, LRUCache):
            cache.clear()

    def _begin(
        self, group: list[Fact], decision: Decision
    ) -> tuple[Incident | None, list[Fact]]:
        beginners = sorted((f for f in group if f.begins_stream), key=lambda f: f.sort_key)
        if not beginners:
            for fact in group:
                error = errors.IncidentNotReceived(
                    f"{fact.kind} for an incident not received yet", event_id=fact.event_id
                )
                decision.rejected.append((fact, error))
            return None, []
        first = beginners[0]
        return Incident.begin(first), [f for f in group if f is not first]


def _by_incident(facts: Iterable[Fact]) -> dict[str, list[Fact]]:
    groups: dict[str, list[Fact]] = {}
    for fact in facts:
        groups.setdefault(fact.incident_id, []).append(fact)
    return groups

