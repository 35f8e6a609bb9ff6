"""Every lifecycle an import emits is valid in the domain, in the order the importer meant."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from consumers.translation import to_fact
from contracts.events import EventBase
from contracts.routing import TopicMap
from domain.application import Incidents
from domain.lifecycle import Entry
from domain.timeline import arrange
from producers.servicenow import ImportOptions, ImportSummary, import_export
from producers.servicenow_export import COLUMNS, parse_time
from testkit.servicenow_export import ExportSpec, export_rows, write_export

DATA = Path(__file__).parent.parent / "data" / "servicenow"
MOSCOW = ZoneInfo("Europe/Moscow")
EDGE_CASES = sorted(p.stem for p in DATA.glob("*.csv") if p.stem != "bad_row")
SPEC = ExportSpec(incidents=1500, seed=8, duplicate_share=0.01, unknown_state_share=0.03)


def _events(data: bytes) -> list[EventBase]:
    return list(import_export(io.BytesIO(data), ImportOptions(MOSCOW), ImportSummary()))


@cache
def generated() -> bytes:
    text = io.StringIO()
    write_export(SPEC, text)
    return text.getvalue().encode()


def _exports() -> Iterator[tuple[str, bytes]]:
    for name in EDGE_CASES:
        yield name, (DATA / f"{name}.csv").read_bytes()
    yield "generated", generated()


def _by_incident(events: list[EventBase]) -> dict[str, list[EventBase]]:
    incidents: dict[str, list[EventBase]] = {}
    for event in events:
        incidents.setdefault(event.incident_id, []).append(event)
    return incidents


def _entries(events: list[EventBase]) -> list[Entry]:
    """The events' timeline entries, as they arrive when published in order (one partition each topic)."""
    topics = TopicMap()
    return [
        Entry(e.occurred_at, str(getattr(e, "type")).removeprefix("incident."), str(e.event_id),
              e.source, e.sequence, f"{topics.topic_for(str(getattr(e, 'type')))}:0", position)
        for position, e in enumerate(events)
    ]  # fmt: skip


@pytest.mark.parametrize(("name", "data"), list(_exports()), ids=lambda v: v if isinstance(v, str) else "")
def test_the_domain_records_every_imported_event(name: str, data: bytes) -> None:
    events = _events(data)
    app = Incidents(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})

    decision = app.decide(to_fact(e) for e in events)

    assert decision.rejected == []
    assert decision.duplicates == 0
    assert sum(len(i.pending_events) for i in decision.incidents) == len(events)


@pytest.mark.parametrize(("name", "data"), list(_exports()), ids=lambda v: v if isinstance(v, str) else "")
def test_published_in_order_the_timeline_keeps_the_importers_order(name: str, data: bytes) -> None:
    for incident_id, events in _by_incident(_events(data)).items():
        entries = _entries(events)

        assert [e.event_id for e in arrange(entries)] == [e.event_id for e in entries], incident_id


def test_the_generated_export_is_seeded_and_as_messy_as_a_real_one() -> None:
    again = io.StringIO()
    write_export(SPEC, again)
    rows = list(export_rows(SPEC))
    incidents = Counter(row["number"] for row in rows)
    times = [(row["number"], parse_time(row["sys_updated_at"], MOSCOW)) for row in rows]
    pairs = list(zip(times, times[1:]))

    assert again.getvalue().encode() == generated()
    assert len(incidents) == SPEC.incidents
    assert list(incidents) == sorted(incidents)  # grouped by incident
    assert sum(a == b for a, b in pairs) > len(rows) * 0.1  # equal update minutes
    assert sum(a[0] == b[0] and a[1] > b[1] for a, b in pairs) > len(rows) * 0.02  # backwards
    assert {row["incident_state"] for row in rows} >= {
        "New", "Active", "Resolved", "Closed", "-100", "Awaiting User Info", "Awaiting Vendor",
    }  # fmt: skip


def _combinations() -> bytes:
    """One incident for every standing × next row: each state, with or without a reopen_count,
    reassignment_count and priority that went up."""
    template = (DATA / "first_row_resolved.csv").read_text().splitlines()
    header, base = template[0], template[1].split(",")
    before = {
        "open": ["New"], "paused": ["New", "Awaiting User Info"], "resolved": ["New", "Resolved"],
        "closed": ["New", "Resolved", "Closed"],
    }  # fmt: skip
    states = ["New", "Active", "Awaiting Vendor", "Awaiting User Info", "Resolved", "Closed", "-100"]
    lines, number = [header], 0
    for standing, path in before.items():
        for state in states:
            for flags in range(8):
                number += 1
                for mods, row_state in enumerate([*path, state]):
                    last = mods == len(path)
                    cells = dict(zip(COLUMNS, base))
                    cells.update(
                        number=f"INC9{number:06d}", incident_state=row_state, sys_mod_count=str(mods),
                        reopen_count="1" if last and flags & 1 else "0",
                        reassignment_count="1" if last and flags & 2 else "0",
                        assignment_group="Group 9" if last and flags & 2 else "Group 56",
                        priority="1 - Critical" if last and flags & 4 else "3 - Moderate",
                        sys_updated_at="2/3/2016 10:00",
                    )  # fmt: skip
                    lines.append(",".join(cells[c] for c in COLUMNS))
    return ("\n".join(lines) + "\n").encode()


def test_every_standing_and_next_row_gives_a_valid_lifecycle_in_the_importers_order() -> None:
    events = _events(_combinations())
    app = Incidents(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})

    decision = app.decide(to_fact(e) for e in events)

    assert decision.rejected == []
    for incident_id, mine in _by_incident(events).items():
        entries = _entries(mine)
        assert [e.event_id for e in arrange(entries)] == [e.event_id for e in entries], incident_id
