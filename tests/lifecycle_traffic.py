"""Real lifecycles over simulated traffic: reassignments (open and resolved), priority changes,
closures and reopens after closure, placed where the lifecycle rules allow them (a test kit)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from random import Random
from typing import Any
from uuid import NAMESPACE_URL, uuid5

Event = dict[str, Any]
GROUPS = ("tech_support", "call_centre", "services", "retail_store", "billing")
PRIORITIES = ("low", "normal", "high", "critical")
_MINUTE = timedelta(minutes=1)


def with_real_lifecycles(events: Iterable[Event], seed: int = 0) -> list[Event]:
    """``events`` with lifecycle events added to some incidents, all in event-time order.

    About a quarter of the incidents are reassigned while open (some at the instant they are
    received: a stretch of no time), a tenth change priority, some are reassigned while
    resolved, and resolved incidents are closed, before their reopen when they have one.
    """
    rng = Random(seed)
    streams: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        streams[str(event["incident_id"])].append(event)
    added: list[Event] = []
    for incident_id in sorted(streams):
        stream = sorted(streams[incident_id], key=lambda e: _at(e))
        if stream[0]["type"] == "incident.received":
            added.extend(_lifecycle(rng, stream))
    every = [e for s in streams.values() for e in s] + added
    return sorted(every, key=lambda e: _at(e))


def _lifecycle(rng: Random, stream: list[Event]) -> list[Event]:
    received = stream[0]
    taken = {_at(e) for e in stream}
    make = _Maker(received, taken)
    resolved = [_at(e) for e in stream if e["type"] == "incident.resolved"]
    reopened = [_at(e) for e in stream if e["type"] == "incident.reopened"]
    open_until = resolved[0] if resolved else _at(received) + timedelta(days=3)
    out: list[Event] = []
    chance = rng.random()
    if chance < 0.05:
        out.append(make.reassigned(_at(received), rng.choice(GROUPS)))
    if chance < 0.25:
        out += make.spread(_at(received), open_until, [("reassigned", rng.choice(GROUPS))])
    if rng.random() < 0.10:
        priority = rng.choice([p for p in PRIORITIES if p != received.get("priority")])
        out += make.spread(_at(received), open_until, [("reclassified", priority)])
    for index, at in enumerate(resolved):
        later = [r for r in reopened if r > at]
        until = later[0] if later else at + timedelta(days=3)
        steps: list[tuple[str, str]] = []
        if rng.random() < 0.10:
            steps.append(("reassigned", rng.choice(GROUPS)))
        if later or index == len(resolved) - 1:
            if rng.random() < 0.5:
                steps.append(("closed", "confirmed"))
        out += make.spread(at, until, steps)
    return out


class _Maker:
    """Wire events for one incident at free minutes (no two of its facts share an instant,
    except a reassignment at the receipt, made on purpose)."""

    def __init__(self, received: Event, taken: set[datetime]) -> None:
        self.received = received
        self.taken = taken
        self.count = 0

    def spread(self, start: datetime, end: datetime, steps: list[tuple[str, str]]) -> list[Event]:
        """The steps at free minutes strictly between ``start`` and ``end``, in order."""
        events: list[Event] = []
        cursor = start
        for number, (kind, value) in enumerate(steps, 1):
            at = self._free(cursor + (end - start) * number / (len(steps) + 1), cursor, end)
            if at is None:
                return events
            events.append(self.reassigned(at, value) if kind == "reassigned" else self._make(kind, at, value))
            cursor = at
        return events

    def reassigned(self, at: datetime, group: str) -> Event:
        return self._event("reassigned", at, department=group, reason="wrong_group")

    def _make(self, kind: str, at: datetime, value: str) -> Event:
        if kind == "reclassified":
            return self._event(kind, at, priority=value)
        return self._event(kind, at, reason=value)

    def _free(self, wanted: datetime, after: datetime, before: datetime) -> datetime | None:
        at = wanted.replace(second=0, microsecond=0)
        while at <= after or at in self.taken:
            at += _MINUTE
        return at if at < before else None

    def _event(self, kind: str, at: datetime, **fields: Any) -> Event:
        self.count += 1
        self.taken.add(at)
        incident = self.received["incident_id"]
        return {
            "event_id": str(uuid5(NAMESPACE_URL, f"lifecycle/{incident}/{self.count}")),
            "type": f"incident.{kind}",
            "schema_version": 1,
            "incident_id": incident,
            "occurred_at": at.isoformat(),
            "source": self.received["source"],
            **fields,
        }


def _at(event: Event) -> datetime:
    return datetime.fromisoformat(str(event["occurred_at"]))
