"""The traffic simulator: deterministic, valid on the wire, true to the lifecycle and realistic."""

from __future__ import annotations

import io
import json
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from itertools import groupby, pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.codec import validate_object
from contracts.routing import TopicMap
from domain.customer_key import customer_key
from domain.lifecycle import Entry, check_timeline
from domain.timeline import arrange
from producers.simulator import SimulationSpec, simulate, write_jsonl
from producers.traffic_mix import AUTO_CLOSE_DAYS, AUTO_CLOSE_HOUR, HOLDING_GROUPS

TOPICS = TopicMap()

Event = dict[str, object]
MOSCOW = ZoneInfo("Europe/Moscow")
STATELESS = ("rated", "thanked")  # facts that change no lifecycle state or classification


@pytest.fixture(scope="module")
def year() -> list[Event]:
    """A year of default traffic, seed 1."""
    return simulate(SimulationSpec(months=12, seed=1))


def _jsonl(events: list[Event]) -> bytes:
    stream = io.StringIO()
    write_jsonl(events, stream)
    return stream.getvalue().encode()


def _at(value: object) -> datetime:
    assert isinstance(value, str)
    return datetime.fromisoformat(value)


def _of_type(events: list[Event], kind: str) -> list[Event]:
    return [e for e in events if e["type"] == f"incident.{kind}"]


def _incident_ids(events: list[Event], kind: str) -> set[object]:
    return {e["incident_id"] for e in _of_type(events, kind)}


def _histories(events: list[Event]) -> dict[str, list[Event]]:
    """Each incident's events, in the simulator's output order."""
    histories: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        histories[str(event["incident_id"])].append(event)
    return histories


def _timelines(events: list[Event], arrivals: bool) -> dict[str, list[Entry]]:
    """Each incident's events as lifecycle entries in the domain's timeline order; with
    ``arrivals``, as if published in output order (one partition per topic and incident)."""
    timelines: dict[str, list[Entry]] = defaultdict(list)
    for position, event in enumerate(events):
        kind = str(event["type"]).removeprefix("incident.")
        stream = TOPICS.topic_for(str(event["type"])) if arrivals else None
        entry = Entry(
            _at(event["occurred_at"]), kind, str(event["event_id"]), str(event["source"]),
            event.get("sequence"),  # type: ignore[arg-type]
            stream, position if arrivals else None, standalone=bool(event.get("standalone")),
        )
        timelines[str(event["incident_id"])].append(entry)
    return {incident_id: arrange(entries) for incident_id, entries in timelines.items()}


def _assert_lifecycle_holds(events: list[Event]) -> None:
    for arrivals in (True, False):
        for entries in _timelines(events, arrivals).values():
            check_timeline(entries)


def _assert_rebuilt_as_told(events: list[Event]) -> None:
    timelines = _timelines(events, arrivals=True)
    for incident_id, history in _histories(events).items():
        told = [str(e["event_id"]) for e in history if _kinds([e])[0] not in STATELESS]
        rebuilt = [e.event_id for e in timelines[incident_id] if e.kind not in STATELESS]
        assert rebuilt == told, incident_id


def _kinds(history: list[Event]) -> list[str]:
    return [str(e["type"]).removeprefix("incident.") for e in history]


def _same_instant_kinds(events: list[Event]) -> list[list[str]]:
    """The kinds of each incident's facts that share an instant, in output order."""
    groups = []
    for history in _histories(events).values():
        for _, facts in groupby(history, key=lambda e: _at(e["occurred_at"])):
            kinds = _kinds(list(facts))
            if len(kinds) > 1:
                groups.append(kinds)
    return groups


def _share(part: int, whole: int) -> float:
    return part / whole


def test_the_same_seed_gives_byte_identical_jsonl() -> None:
    spec = SimulationSpec(months=2, seed=7)

    first, second = _jsonl(simulate(spec)), _jsonl(simulate(spec))

    assert first == second


def test_a_different_seed_gives_different_traffic() -> None:
    one, other = SimulationSpec(months=2, seed=7), SimulationSpec(months=2, seed=8)

    assert _jsonl(simulate(one)) != _jsonl(simulate(other))


def test_write_jsonl_writes_one_compact_key_sorted_object_per_line(tmp_path: Path) -> None:
    events = simulate(SimulationSpec(months=1, incidents_per_month=10))
    path = tmp_path / "events.jsonl"

    count = write_jsonl(events, path)

    lines = path.read_text(encoding="utf-8").splitlines()
    assert count == len(lines) == len(events)
    assert [json.loads(line) for line in lines] == events
    assert lines[0] == json.dumps(events[0], separators=(",", ":"), sort_keys=True)


def test_every_event_satisfies_the_wire_contract(year: list[Event]) -> None:
    for event in year:
        validate_object(event)


def test_every_timestamp_carries_the_offset_of_the_configured_zone(year: list[Event]) -> None:
    stamps = [e[field] for e in year for field in ("occurred_at", "reported_at", "completed_at")
              if e.get(field) is not None]

    offsets = {str(stamp)[-6:] for stamp in stamps}

    assert offsets == {"+03:00"}


def test_events_come_sorted_by_instant_then_incident_each_in_the_order_it_happened(
    year: list[Event],
) -> None:
    keys = [(_at(e["occurred_at"]), str(e["incident_id"])) for e in year]

    assert keys == sorted(keys)
    assert len({e["event_id"] for e in year}) == len(year)


def test_every_incident_obeys_the_lifecycle_rules(year: list[Event]) -> None:
    _assert_lifecycle_holds(year)


def test_the_domain_rebuilds_every_incident_in_the_order_its_story_happened(
    year: list[Event],
) -> None:
    """Published in output order, each incident's facts come back in that order from the
    timeline rules (sequence, then offset, then validity); ratings and thanks excepted,
    which change nothing and are ordered by nothing when they share a minute by chance."""
    _assert_rebuilt_as_told(year)


def test_facts_of_one_incident_share_a_minute_as_in_real_helpdesk_logs(year: list[Event]) -> None:
    groups = _same_instant_kinds(year)

    def occurs(*kinds: str) -> bool:
        return any(
            any(group[i : i + len(kinds)] == list(kinds) for i in range(len(group)))
            for group in groups
        )

    assert len(groups) >= 100
    assert occurs("reassigned", "reclassified")
    assert occurs("resumed", "paused")
    assert occurs("resolved", "closed")
    assert occurs("resolved", "reopened", "resolved")


def test_sequenced_sources_count_each_incidents_changes_and_others_carry_none(
    year: list[Event],
) -> None:
    counters: dict[tuple[object, object], list[object]] = defaultdict(list)

    for event in year:
        if event["source"] in ("cs-desk", "edms"):
            counters[event["incident_id"], event["source"]].append(event["sequence"])
        else:
            assert "sequence" not in event, event["source"]

    assert all(numbers == list(range(len(numbers))) for numbers in counters.values())
    assert any(source == "edms" for _, source in counters)
    assert "sequence" not in _of_type(year, "rated")[0]


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    zone=st.sampled_from(["Europe/Moscow", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]),
    start=st.sampled_from([date(2024, 3, 1), date(2025, 10, 1), date(2025, 12, 1)]),
    volume=st.integers(min_value=1, max_value=40),
)
def test_traffic_of_any_seed_and_zone_obeys_the_lifecycle_rules(
    seed: int, zone: str, start: date, volume: int
) -> None:
    spec = SimulationSpec(
        months=2, seed=seed, start=start, incidents_per_month=volume, timezone=zone
    )

    events = simulate(spec)

    _assert_lifecycle_holds(events)
    _assert_rebuilt_as_told(events)
    assert all(_at(e["occurred_at"]).utcoffset() is not None for e in events)


def test_no_event_happens_after_the_period_even_if_incidents_stay_open(year: list[Event]) -> None:
    end = datetime(2026, 1, 1, tzinfo=MOSCOW)

    last = max(_at(e["occurred_at"]) for e in year)
    open_incidents = _incident_ids(year, "received") - _incident_ids(year, "resolved")

    assert last < end
    assert open_incidents


def test_every_month_has_at_least_a_hundred_incidents(year: list[Event]) -> None:
    per_month = Counter(str(e["occurred_at"])[:7] for e in _of_type(year, "received"))

    assert len(per_month) == 12
    assert min(per_month.values()) >= 100


def test_ten_to_twenty_percent_of_incidents_are_escalated(year: list[Event]) -> None:
    share = len(_incident_ids(year, "escalated")) / len(_incident_ids(year, "received"))

    assert 0.10 <= share <= 0.20


def test_thanks_are_five_to_ten_percent_of_contacts(year: list[Event]) -> None:
    thanks, received = len(_of_type(year, "thanked")), len(_of_type(year, "received"))

    share = thanks / (thanks + received)

    assert 0.05 <= share <= 0.10


def test_ten_to_twenty_percent_of_resolved_incidents_had_long_service(year: list[Event]) -> None:
    resolved = _of_type(year, "resolved")

    long_service = {e["incident_id"] for e in resolved if e.get("root_cause")}

    assert 0.10 <= len(long_service) / len({e["incident_id"] for e in resolved}) <= 0.20


def test_customers_contact_departments_inside_their_working_hours(year: list[Event]) -> None:
    for event in _of_type(year, "received"):
        reported = _at(event["reported_at"])
        if event["department"] == "retail_store":
            assert time(10) <= reported.time() < time(22)
        else:
            assert reported.weekday() < 5
            assert time(9) <= reported.time() < time(18)


def test_customers_a_share_of_incidents_some_returning_some_by_phone_or_e_mail_only(year: list[Event]) -> None:
    received = _of_type(year, "received")
    customers = [e["customer"] for e in received if "customer" in e]
    assert 0.8 <= len(customers) / len(received) <= 0.9
    given = Counter(tuple(sorted(k for k in c if k != "name")) for c in customers)  # type: ignore[union-attr]
    assert given.keys() == {("email", "phone"), ("phone",), ("email",)}
    assert 0.1 <= given[("phone",)] / len(customers) <= 0.2 and 0.1 <= given[("email",)] / len(customers) <= 0.2
    # One person, one key (phones read nationally in Russia, as the simulated zone is).
    keyed = defaultdict(list)
    for event in received:
        c = event.get("customer")
        if isinstance(c, dict):
            keyed[customer_key(b"s", c.get("phone"), c.get("email"), "RU")].append(event)
    returning = [contacts for contacts in keyed.values() if len(contacts) > 1]
    assert 0.15 <= sum(len(c) - 1 for c in returning) / len(customers) <= 0.3
    assert max(len(c) for c in returning) >= 3
    variants = [{c["customer"].get("phone") for c in contacts} for contacts in returning]  # type: ignore[union-attr]
    assert sum(len(v) > 1 for v in variants) >= len(variants) // 3  # one phone written differently
    gaps = [_at(b["occurred_at"]) - _at(a["occurred_at"]) for contacts in returning for a, b in pairwise(contacts)]
    assert sum(g <= timedelta(days=7) for g in gaps) >= len(gaps) // 5  # repeat contacts within a week


def test_phone_calls_are_received_at_once_and_other_handovers_later(year: list[Event]) -> None:
    received = _of_type(year, "received")

    delays = [(e["channel"], _at(e["occurred_at"]) - _at(e["reported_at"])) for e in received]

    assert all(delay.total_seconds() == 0 for channel, delay in delays if channel == "phone")
    assert all(delay.total_seconds() > 0 for channel, delay in delays if channel != "phone")


def test_departments_hand_over_through_their_channels(year: list[Event]) -> None:
    channels: dict[object, set[object]] = defaultdict(set)

    for event in _of_type(year, "received"):
        channels[event["department"]].add(event["channel"])

    assert channels["call_centre"] <= {"phone", "email", "chat", "messenger"}
    assert channels["retail_store"] == {"email", "document_system", "in_store"}
    assert channels["document_management"] == {"document_system"}


def test_retail_store_incidents_name_the_store_and_complete_before_cs_is_told(
    year: list[Event],
) -> None:
    store_incidents = {e["incident_id"]: e["store"] for e in _of_type(year, "received")
                       if e["department"] == "retail_store"}

    resolutions = _of_type(year, "resolved")
    store_resolutions = [e for e in resolutions if e["incident_id"] in store_incidents]

    assert all(str(store).startswith("store-") for store in store_incidents.values())
    assert store_resolutions
    assert all(_at(e["completed_at"]) < _at(e["occurred_at"]) for e in store_resolutions)


def test_standalone_thanks_are_contacts_of_their_own(year: list[Event]) -> None:
    by_incident = Counter(e["incident_id"] for e in year)

    standalone = [e for e in _of_type(year, "thanked") if e.get("standalone")]

    assert standalone
    assert all(str(e["incident_id"]).startswith("THX-2025-") for e in standalone)
    assert all(by_incident[e["incident_id"]] == 1 for e in standalone)


def _walk(history: list[Event]) -> list[tuple[Event, bool, str]]:
    """Each event with whether the incident was resolved and which group held it before it."""
    resolved, holder, walked = False, "", []
    for event in history:
        walked.append((event, resolved, holder))
        kind = _kinds([event])[0]
        if kind == "received":
            holder = str(event["department"])
        elif kind == "reassigned":
            holder = str(event["department"])
        elif kind in ("resolved", "reopened"):
            resolved = kind == "resolved"
    return walked


def test_about_ten_percent_of_incidents_move_to_other_groups_a_few_while_resolved(
    year: list[Event],
) -> None:
    incidents = len(_incident_ids(year, "received"))
    moves: Counter[object] = Counter()
    while_resolved = 0

    for history in _histories(year).values():
        for event, resolved, holder in _walk(history):
            if event["type"] == "incident.reassigned":
                assert event["department"] != holder
                assert event["department"] in HOLDING_GROUPS
                moves[event["incident_id"]] += 1
                while_resolved += resolved

    assert 0.08 <= _share(len(moves), incidents) <= 0.14
    assert {2, 3} <= set(moves.values())
    assert max(moves.values()) <= 4  # three while open, one after the resolution
    assert 5 <= while_resolved <= 0.03 * incidents


def test_priorities_categories_and_channels_are_corrected_in_the_proportions_chosen(
    year: list[Event],
) -> None:
    incidents = len(_incident_ids(year, "received"))
    corrected: dict[str, set[object]] = defaultdict(set)

    for history in _histories(year).values():
        current = dict(history[0])
        for event in history[1:]:
            if event["type"] != "incident.reclassified":
                continue
            named = [f for f in ("priority", "category", "channel") if f in event]
            assert named
            for name in named:
                assert event[name] != current[name]
                current[name] = event[name]
                corrected[name].add(event["incident_id"])

    assert 0.015 <= _share(len(corrected["priority"]), incidents) <= 0.04
    assert 0.035 <= _share(len(corrected["category"]), incidents) <= 0.065
    assert 0.004 <= _share(len(corrected["channel"]), incidents) <= 0.02


def test_resolved_incidents_are_closed_at_once_or_by_the_nightly_job_and_a_few_reopened(
    year: list[Event],
) -> None:
    settled_before = datetime(2025, 12, 15, tzinfo=MOSCOW)  # auto-close due inside the year
    finals, closures, at_once, reopened_after_closure = 0, 0, 0, set()

    for history in _histories(year).values():
        last_resolution = None
        kinds = _kinds(history)
        for event, kind in zip(history, kinds):
            if kind == "resolved":
                last_resolution = _at(event["occurred_at"])
            elif kind == "closed":
                assert last_resolution is not None
                closed_at = _at(event["occurred_at"])
                if closed_at == last_resolution:
                    at_once += 1
                else:
                    assert closed_at - last_resolution > timedelta(days=AUTO_CLOSE_DAYS)
                    assert closed_at.astimezone(MOSCOW).hour == AUTO_CLOSE_HOUR
        if "closed" in kinds and "reopened" in kinds[kinds.index("closed") :]:
            reopened_after_closure.add(history[0]["incident_id"])
        if last_resolution is not None and last_resolution < settled_before:
            finals += 1
            last = len(kinds) - 1 - kinds[::-1].index("resolved")
            closures += "closed" in kinds[last:]

    incidents = len(_incident_ids(year, "received"))
    assert 0.93 <= _share(closures, finals) <= 0.995
    assert 0.05 <= _share(at_once, len(_of_type(year, "closed"))) <= 0.11
    assert 1 <= len(reopened_after_closure) <= 0.015 * incidents


def test_a_spec_must_start_on_the_first_of_a_month() -> None:
    with pytest.raises(ValueError, match="first day"):
        SimulationSpec(start=date(2025, 1, 15))
