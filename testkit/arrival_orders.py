"""Publishing orders of one data set that keep each topic's own order (tests and bench)."""

from __future__ import annotations

import random

from contracts.routing import TopicMap


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
