"""Publishing orders of one data set (tests and bench): ones that keep each topic's own order,
and real traffic's that do not (a history export grouped by incident, topics newest first)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from contracts.routing import TopicMap

Event = dict[str, Any]


def interleavings(events: list[dict[str, object]], topics: TopicMap, seed: int) -> dict[str, list[dict[str, object]]]:
    """Publishing orders that keep each topic's order: in order, resolved first, random, twice."""
    by_topic: dict[str, list[dict[str, object]]] = {}
    for event in events:
        by_topic.setdefault(topics.topic_for(str(event["type"])), []).append(event)
    resolved_first = sorted(by_topic, key=lambda t: t != topics.resolved)
    rng = random.Random(seed)
    queues = [list(reversed(q)) for q in by_topic.values()]
    shuffled = []
    while any(queues):
        shuffled.append(rng.choice([q for q in queues if q]).pop())
    return {
        "in_order": events,
        "resolved_first": [e for t in resolved_first for e in by_topic[t]],
        "random_interleave": shuffled,
        "twice": events + events,
    }


def grouped_by_incident(events: Sequence[Event], rng: random.Random) -> list[Event]:
    """Incident after incident, each incident's rows shuffled: how history exports come."""
    groups: dict[str, list[Event]] = {}
    for event in events:
        groups.setdefault(str(event["incident_id"]), []).append(event)
    ordered: list[Event] = []
    for incident_id in sorted(groups, reverse=True):
        rows = groups[incident_id]
        rng.shuffle(rows)
        ordered += rows
    return ordered


def topics_reversed(events: Sequence[Event], topics: TopicMap) -> list[Event]:
    """The lifecycle topic first, the receipts last, each topic newest first."""
    order = list(reversed(topics.incident_topics))
    return sorted(reversed(events), key=lambda e: order.index(topics.topic_for(str(e["type"]))))
