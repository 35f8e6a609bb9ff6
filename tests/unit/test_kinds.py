"""The event kinds are said once on each side of the anti-corruption layer, and agree."""

from __future__ import annotations

from contracts.events import EVENT_MODELS, EVENT_TYPES
from contracts.routing import TopicMap
from domain.fact import KINDS
from domain.incident import EVENT_CLASSES, Incident


def test_every_wire_type_is_a_domain_kind_and_every_kind_a_wire_type() -> None:
    assert sorted(t.removeprefix("incident.") for t in EVENT_TYPES) == sorted(KINDS)


def test_every_kind_has_a_stored_event_class_with_an_explicit_versioned_topic() -> None:
    stored = {cls.KIND for cls in EVENT_CLASSES}

    assert stored == set(KINDS)
    assert all(str(getattr(cls, "TOPIC")).endswith(".v1") for cls in EVENT_CLASSES)
    assert len({getattr(cls, "TOPIC") for cls in EVENT_CLASSES}) == len(EVENT_CLASSES)


def test_a_thanks_is_stored_as_a_beginning_or_as_a_fact_of_an_incident() -> None:
    thanks = {cls for cls in EVENT_CLASSES if cls.KIND == "thanked"}

    assert thanks == {Incident.Thanked, Incident.ThankedStandalone}


def test_every_wire_type_is_routed_to_a_topic_the_consumer_reads() -> None:
    topics = TopicMap()

    assert {topics.topic_for(t) for t in EVENT_MODELS} <= set(topics.incident_topics)
