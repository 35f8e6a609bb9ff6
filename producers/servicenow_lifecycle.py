"""How one incident's audit rows, in sys_mod_count order, become the facts of its lifecycle.

Each row is compared with where the incident stands after the rows before it. A row gives at
most one fact of each kind, listed in the order the domain's timeline puts facts of one
instant (a reopen before the changes it allows, the changes before the new state).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

from producers.servicenow_export import AuditRow, snake_case

# Stands in for a missing channel, category or group, which the contract requires.
UNKNOWN = "unknown"
# Why the opening assignment group holds the incident from its receipt on.
ROUTED_AT_OPENING = "assignment group at opening"
# What `resolved` says when the export gives no resolution (the contract requires one).
RESOLVED_IN_SOURCE = "resolved"
CLOSED_UNRESOLVED = "closed_without_resolution"

Status = Literal["open", "paused", "resolved", "closed"]
Change = tuple[str, dict[str, object]]
_OPEN_STATES = frozenset({"new", "active", "in_progress"})


@dataclass(frozen=True)
class RowState:
    """What a row's incident_state says: a status, and for a pause its reason."""

    status: Status
    reason: str | None = None


def state_of(text: str) -> RowState | None:
    """The status an incident_state names; None for a state the import does not know (-100)."""
    word = snake_case(text)
    if word in _OPEN_STATES:
        return RowState("open")
    if word.startswith("awaiting_") or word == "on_hold":
        return RowState("paused", word)
    if word == "resolved":
        return RowState("resolved")
    if word == "closed":
        return RowState("closed")
    return None


class Standing(NamedTuple):
    """Where an incident stands after the facts emitted so far (and the counters they match)."""

    status: Status
    reason: str | None
    reassignments: int
    reopens: int
    group: str
    priority: str
    category: str
    channel: str


@dataclass(frozen=True)
class Step:
    """What one row does: the incident's new standing, its facts, and what is worth counting."""

    standing: Standing
    changes: list[Change]
    notes: list[str]


def at_receipt(change: Change) -> bool:
    """Whether a fact happens at the incident's opening: its receipt and the routing."""
    kind, fields = change
    return kind == "received" or fields.get("reason") == ROUTED_AT_OPENING


def begin(row: AuditRow) -> Step:
    """The first row: the incident is received as it was opened, routed to its assignment group
    (Customer Service receives every incident; ServiceNow's opening group holds it from the
    receipt on, so the routing is a `reassigned` at the same instant), then takes the row's
    state."""
    received: dict[str, object] = {
        "channel": row.channel or UNKNOWN, "department": row.group or UNKNOWN,
        "category": row.category or UNKNOWN, "reported_at": row.opened_at,
        "store": row.location, "priority": row.priority,
        "customer": row.caller,  # the customer's name: personal data
    }  # fmt: skip
    standing = Standing(
        "open", None, row.reassignment_count, row.reopen_count, row.group or UNKNOWN,
        row.priority or "normal", row.category or UNKNOWN, row.channel or UNKNOWN,
    )  # fmt: skip
    state = state_of(row.state)
    standing, changes = _take_state(standing, state, row)
    notes = ["unknown_states"] if state is None else []
    routed: list[Change] = []
    if row.group is not None:
        routing: dict[str, object] = {
            "department": row.group, "assignee": row.assignee, "reason": ROUTED_AT_OPENING,
        }
        routed.append(("reassigned", routing))
    return Step(standing, [("received", received), *routed, *changes], notes)


def step(standing: Standing, row: AuditRow) -> Step:
    """A later row: reopen if it must, then reassignment and reclassification, then the state."""
    state = state_of(row.state)
    notes = ["unknown_states"] if state is None else []
    reopen_up = row.reopen_count > standing.reopens
    back_to_work = state is not None and state.status in ("open", "paused")
    reopening = standing.status in ("resolved", "closed") and (reopen_up or back_to_work)
    if reopen_up and not reopening:
        notes.append("reopen_without_resolution")
    changes: list[Change] = []
    was_closed = standing.status == "closed"
    if reopening:
        standing = standing._replace(status="open")
    # The order the domain's timeline gives facts of one instant: a closed incident is reopened
    # before anything else changes it; a resolved one after its reassignment and
    # reclassification (both allowed while resolved), before its new state.
    if reopening and was_closed:
        changes.append(("reopened", {}))
    standing = standing._replace(reopens=max(standing.reopens, row.reopen_count))
    if standing.status == "closed":
        if _reassignment(standing, row) or _reclassification(standing, row):
            notes.append("held_after_closure")  # kept for a later reopen, else never imported
    else:
        standing, rerouted = _reroute(standing, row)
        changes.extend(rerouted)
    if reopening and not was_closed:
        changes.append(("reopened", {}))
    standing, stated = _take_state(standing, state, row)
    return Step(standing, changes + stated, notes)


def _reroute(standing: Standing, row: AuditRow) -> tuple[Standing, list[Change]]:
    changes: list[Change] = []
    corrected = _reclassification(standing, row)
    if corrected:
        changes.append(("reclassified", corrected))
        standing = standing._replace(
            priority=row.priority or standing.priority,
            category=row.category or standing.category,
            channel=row.channel or standing.channel,
        )
    if _reassignment(standing, row):
        group = row.group or UNKNOWN
        changes.append(("reassigned", {"department": group, "assignee": row.assignee}))
        count = max(standing.reassignments, row.reassignment_count)
        standing = standing._replace(group=group, reassignments=count)
    return standing, changes


def _reassignment(standing: Standing, row: AuditRow) -> bool:
    moved = row.group is not None and row.group != standing.group
    return moved or row.reassignment_count > standing.reassignments


def _reclassification(standing: Standing, row: AuditRow) -> dict[str, object]:
    changed = {
        "priority": row.priority if row.priority not in (None, standing.priority) else None,
        "category": row.category if row.category not in (None, standing.category) else None,
        "channel": row.channel if row.channel not in (None, standing.channel) else None,
    }
    return {name: value for name, value in changed.items() if value is not None}


def _take_state(
    standing: Standing, state: RowState | None, row: AuditRow
) -> tuple[Standing, list[Change]]:
    """The facts that bring ``standing`` (not closed, unless the row keeps it so) to ``state``."""
    if state is None or (state.status == standing.status and state.reason == standing.reason):
        return standing, []
    current, target = standing.status, state.status
    changes: list[Change] = []
    if current == "paused" and target in ("open", "paused"):
        changes.append(("resumed", {}))
    if target == "paused":
        changes.append(("paused", {"reason": state.reason}))
    if target in ("resolved", "closed") and current in ("open", "paused"):
        resolution = RESOLVED_IN_SOURCE if target == "resolved" else CLOSED_UNRESOLVED
        changes.append(("resolved", {"resolution": resolution, "root_cause": row.closed_code}))
    if target == "closed" and current != "closed":
        changes.append(("closed", {}))
    if current == "closed" and target == "resolved":
        return standing, []  # Closed is further on than Resolved: nothing to do
    return standing._replace(status=target, reason=state.reason), changes
