"""Hand-made ServiceNow exports become the events an analyst expects, in a valid order."""

from __future__ import annotations

import io
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from contracts.events import EventBase
from producers.errors import InvalidRow
from producers.servicenow import ImportOptions, ImportSummary, event_id, import_export
from producers.servicenow_lifecycle import ROUTED_AT_OPENING

DATA = Path(__file__).parent.parent / "data" / "servicenow"
MOSCOW = ZoneInfo("Europe/Moscow")
Step = tuple[str, int, str]  # kind, sequence, local "DD/MM HH:MM"


def imported(
    name: str, *, routing: bool = False, **options: object
) -> tuple[list[EventBase], ImportSummary]:
    """The events of one hand-made export; without the routing to the opening group unless
    asked (it is the same for every incident, see its own test)."""
    summary = ImportSummary()
    with (DATA / f"{name}.csv").open("rb") as stream:
        events = list(import_export(stream, ImportOptions(MOSCOW, **options), summary))  # type: ignore[arg-type]
    if not routing:
        events = [e for e in events if getattr(e, "reason", None) != ROUTED_AT_OPENING]
    return events, summary


def steps(events: list[EventBase]) -> list[Step]:
    return [
        (str(getattr(e, "type")).removeprefix("incident."), e.sequence or 0,
         e.occurred_at.astimezone(MOSCOW).strftime("%d/%m %H:%M"))
        for e in events
    ]  # fmt: skip


def test_customer_service_routes_each_incident_to_its_opening_group_at_receipt() -> None:
    events, _ = imported("first_row_resolved", routing=True)

    received, routed = events[:2]
    assert steps(events)[:2] == [("received", 0, "01/03 09:00"), ("reassigned", 0, "01/03 09:00")]
    assert getattr(received, "department") == getattr(routed, "department")
    assert getattr(routed, "reason") == ROUTED_AT_OPENING


def test_an_incident_logged_first_as_resolved_is_received_and_resolved() -> None:
    events, _ = imported("first_row_resolved")

    assert steps(events) == [
        ("received", 0, "01/03 09:00"), ("resolved", 0, "01/03 09:05"), ("closed", 1, "06/03 10:00"),
    ]  # fmt: skip


def test_closing_an_unresolved_incident_resolves_it_first_and_says_so() -> None:
    events, _ = imported("closed_without_resolved")

    assert steps(events)[1:] == [("resolved", 2, "04/03 16:00"), ("closed", 2, "04/03 16:00")]
    assert getattr(events[1], "resolution") == "closed_without_resolution"
    assert getattr(events[1], "root_cause") == "code 5"


def test_a_reopen_after_closure_is_a_reopened_and_the_last_resolution_keeps_its_code() -> None:
    events, _ = imported("reopen_after_closed")

    assert [kind for kind, _, _ in steps(events)] == [
        "received", "resolved", "closed", "reopened", "resolved", "closed",
    ]  # fmt: skip
    assert [getattr(e, "root_cause") for e in events if e.type == "incident.resolved"] == [  # type: ignore[attr-defined]
        "code 7", "code 9",
    ]  # fmt: skip


def test_a_reassignment_while_resolved_does_not_reopen() -> None:
    events, _ = imported("reassigned_while_resolved")

    assert [kind for kind, _, _ in steps(events)] == ["received", "resolved", "reassigned", "closed"]
    reassigned = events[2]
    assert (getattr(reassigned, "department"), getattr(reassigned, "assignee")) == ("Group 70", "Resolver 31")


def test_resolved_reopened_resolved_in_one_minute_follow_sys_mod_count() -> None:
    events, _ = imported("resolved_active_resolved_one_minute")

    assert steps(events)[1:] == [
        ("resolved", 1, "07/03 11:47"), ("reopened", 2, "07/03 11:47"), ("resolved", 3, "07/03 11:47"),
    ]  # fmt: skip


def test_awaiting_one_thing_then_another_is_resumed_and_paused_with_the_new_reason() -> None:
    events, _ = imported("resume_then_pause_one_minute")

    assert steps(events)[1:] == [
        ("paused", 1, "08/03 10:00"), ("resumed", 2, "08/03 14:05"), ("paused", 3, "08/03 14:05"),
        ("resumed", 4, "09/03 10:00"), ("paused", 4, "09/03 10:00"), ("resolved", 5, "10/03 10:00"),
    ]  # fmt: skip
    reasons = [getattr(e, "reason") for e in events if e.type == "incident.paused"]  # type: ignore[attr-defined]
    assert reasons == ["awaiting_user_info", "awaiting_vendor", "awaiting_problem"]


def test_priority_category_and_contact_type_changes_are_reclassifications() -> None:
    events, _ = imported("reclassified")

    changes = [
        {k: getattr(e, k) for k in ("priority", "category", "channel") if getattr(e, k)}
        for e in events if e.type == "incident.reclassified"  # type: ignore[attr-defined]
    ]  # fmt: skip
    assert (getattr(events[0], "channel"), getattr(events[0], "priority")) == ("email", "low")
    assert changes == [
        {"priority": "high"}, {"category": "Category 26"},
        {"priority": "critical", "category": "Category 42", "channel": "self_service"},
        {"priority": "high"},
    ]  # fmt: skip
    assert [kind for kind, seq, _ in steps(events) if seq == 4] == ["reclassified", "reassigned"]


def test_update_times_running_backwards_are_clamped_to_the_previous_event() -> None:
    events, summary = imported("out_of_order_updates")

    assert steps(events) == [
        ("received", 0, "10/03 09:00"), ("paused", 3, "10/03 09:35"),
        ("resumed", 4, "11/03 10:00"), ("resolved", 5, "11/03 10:00"),
    ]  # fmt: skip
    assert summary.notes["clamped_rows"] == 1


def test_duplicated_rows_collapse_into_one_set_of_events() -> None:
    events, summary = imported("duplicated_rows")

    assert [kind for kind, _, _ in steps(events)] == ["received", "resolved"]
    assert summary.notes["duplicate_rows"] == 2
    assert len({e.event_id for e in events}) == len(events)


def test_missing_values_become_placeholders_and_absent_fields() -> None:
    events, _ = imported("missing_values")

    received = events[0].model_dump(exclude_none=True)
    assert {k: received[k] for k in ("channel", "department", "category", "priority")} == {
        "channel": "unknown", "department": "unknown", "category": "unknown", "priority": "normal",
    }  # fmt: skip
    assert "customer" not in received and "store" not in received
    assert "root_cause" not in events[-1].model_dump(exclude_none=True)


def test_an_unknown_state_changes_nothing_and_is_counted() -> None:
    events, summary = imported("unknown_state")

    assert [kind for kind, _, _ in steps(events)] == ["received", "resolved"]
    assert summary.notes["unknown_states"] == 2


def test_a_bad_row_names_its_line_and_column() -> None:
    with pytest.raises(InvalidRow) as raised:
        imported("bad_row")

    assert str(raised.value) == (
        "line 3, column sys_updated_at: '14/3/2016 25:61' is not a D/M/YYYY HH:MM time"
    )


def test_a_skipped_bad_row_is_counted_and_the_rest_imported() -> None:
    events, summary = imported("bad_row", skip_invalid=True)

    assert [kind for kind, _, _ in steps(events)] == ["received", "resolved"]
    assert (summary.rows, summary.skipped, summary.first_skipped[0].line_number) == (3, 1, 3)


def test_importing_twice_gives_the_same_event_ids_from_number_sys_mod_count_and_kind() -> None:
    first, _ = imported("reopen_after_closed")
    second, _ = imported("reopen_after_closed")

    assert first == second
    assert first[3].event_id == event_id("INC0000103", 3, "reopened")


def test_the_source_is_servicenow_unless_told_otherwise() -> None:
    default, _ = imported("first_row_resolved")
    other, _ = imported("first_row_resolved", source="servicenow-eu")

    assert {e.source for e in default} == {"servicenow"}
    assert {e.source for e in other} == {"servicenow-eu"}


def test_every_incident_counts_in_the_month_it_was_opened() -> None:
    text = (DATA / "first_row_resolved.csv").read_text().replace("1/3/2016 09:00", "29/2/2016 23:59")

    events = list(import_export(io.BytesIO(text.encode()), ImportOptions(MOSCOW), ImportSummary()))

    assert events[0].occurred_at.isoformat() == "2016-02-29T23:59:00+03:00"
    assert getattr(events[0], "reported_at") == events[0].occurred_at
