"""Hypothesis strategies of valid incident histories as wire events, with real lifecycles.

Histories have what real helpdesk logs have and the simulator rarely makes: many facts in one
minute (ordered by the desk's change counter, ``sequence``), reassignments while resolved,
reclassifications, closures and reopens after closure, a store's resolution and the desk's
closure at one instant (no common source, so only the valid order decides), ratings, thanks,
and standalone thanks contacts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import permutations
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from hypothesis import strategies as st

from domain.errors import DomainError
from domain.lifecycle import BEGINNING, Entry, State, step

Event = dict[str, Any]

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
DESK = "cs-desk"  # keeps a per-incident change counter
STORE = "store-014"  # does not
SURVEY = "csat-survey"  # does not
GROUPS = ("retail_store", "call_centre", "tech_support", "customer_service")

# Which kinds may follow in each state, and the state after them.
_NEXT = {
    "open": ("escalated", "paused", "resolved", "reassigned", "reclassified", "thanked"),
    "paused": ("resumed", "resolved", "reassigned", "reclassified"),
    "resolved": ("reopened", "closed", "reassigned", "reclassified", "rated", "thanked"),
    "closed": ("reopened", "rated", "thanked"),
}
_STATE_AFTER = {
    "resolved": "resolved", "reopened": "open", "paused": "paused", "resumed": "open",
    "closed": "closed",
}  # fmt: skip
_DETAILS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "escalated": st.fixed_dictionaries({"escalated_to": st.sampled_from(("tech_support", "supplier"))}),
    "resolved": st.fixed_dictionaries(
        {"resolution": st.sampled_from(("exchange", "refund", "repair"))},
        optional={"root_cause": st.sampled_from(("supplier_delay", "incomplete_documents"))},
    ),
    "reopened": st.just({}),
    "paused": st.fixed_dictionaries({"reason": st.sampled_from(("awaiting_customer", "awaiting_supplier"))}),
    "resumed": st.just({}),
    "closed": st.just({}),
    "rated": st.fixed_dictionaries({"rating": st.sampled_from(("bad", "neutral", "good"))}),
    "thanked": st.fixed_dictionaries({"channel": st.sampled_from(("phone", "email"))}),
    "reassigned": st.fixed_dictionaries({"department": st.sampled_from(GROUPS)}),
    "reclassified": st.one_of(
        st.fixed_dictionaries({"priority": st.sampled_from(("low", "normal", "high", "critical"))}),
        st.fixed_dictionaries({"category": st.sampled_from(("delivery", "warranty"))}),
        st.fixed_dictionaries({"channel": st.sampled_from(("phone", "chat"))}),
    ),
}  # fmt: skip


@dataclass
class _Writer:
    """Stamps one incident's events: ids, instants, sources and the desk's counter."""

    incident_id: str
    keeps_counter: bool = True  # whether the desk stamps its change counter
    events: list[Event] = field(default_factory=list)
    counter: int = 0

    def emit(self, kind: str, at: datetime, source: str, **details: Any) -> None:
        event: Event = {
            "event_id": str(uuid5(NAMESPACE_URL, f"{self.incident_id}/{len(self.events)}")),
            "type": f"incident.{kind}",
            "schema_version": 1,
            "incident_id": self.incident_id,
            "occurred_at": at.isoformat(),
            "source": source,
            **details,
        }
        if source == DESK and self.keeps_counter:
            self.counter += 1
            event["sequence"] = self.counter
        self.events.append(event)


def _source_of(kind: str, draw: st.DrawFn) -> str:
    if kind == "rated":
        return SURVEY
    if kind in ("resolved", "thanked"):
        return draw(st.sampled_from((DESK, STORE)))
    return DESK


def _only_one_valid_order(before: State, kinds: list[str]) -> bool:
    """Whether exactly one order of these same-instant facts is valid after ``before``."""
    valid = set()
    for order in permutations(range(len(kinds))):
        state: State | None = before
        for index in order:
            try:
                state = step(state, Entry(T0, kinds[index], str(index)))  # type: ignore[arg-type]
            except DomainError:
                state = None
                break
        if state is not None:
            valid.add(order)
    return len(valid) == 1


@st.composite
def incident_history(draw: st.DrawFn, incident_id: str, start: datetime) -> list[Event]:
    """One incident's valid events, several often in one minute, in the order they happened.

    Facts share an instant only where their order is decided: all from a desk that keeps its
    counter, or exactly one order of them is valid (the desk may keep no counter at all).
    """
    writer = _Writer(incident_id, keeps_counter=draw(st.booleans()))
    writer.emit(
        "received", start, STORE, channel=draw(st.sampled_from(("email", "phone", "in_store"))),
        department=draw(st.sampled_from(GROUPS[:2])), category="product_quality",
        priority=draw(st.sampled_from(("normal", "high"))),
    )  # fmt: skip
    kind_state, ever_resolved, at = "open", False, start
    state = step(BEGINNING, Entry(start, "received", "r"))
    group: list[tuple[str, str]] = [("received", STORE)]  # the facts of the current instant
    group_before = BEGINNING
    for _ in range(draw(st.integers(0, 10))):
        allowed = [k for k in _NEXT[kind_state] if k != "rated" or ever_resolved]
        kind = draw(st.sampled_from(allowed))
        source = _source_of(kind, draw)
        together = [*group, (kind, source)]
        decided = (writer.keeps_counter and all(s == DESK for _, s in together)) or (
            _only_one_valid_order(group_before, [k for k, _ in together])
        )
        if decided and group[0][0] != "received" and draw(st.booleans()):
            group = together
        else:
            at += timedelta(minutes=draw(st.sampled_from((1, 7, 60, 24 * 60, 5 * 24 * 60))))
            group, group_before = [(kind, source)], state
        writer.emit(kind, at, source, **draw(_DETAILS[kind]))
        state = step(state, Entry(at, kind, str(len(writer.events))))
        kind_state = _STATE_AFTER.get(kind, kind_state)
        ever_resolved = ever_resolved or kind == "resolved"
    return writer.events


@st.composite
def data_sets(draw: st.DrawFn, max_incidents: int = 4) -> list[Event]:
    """Several incidents (some beginning at one instant) and perhaps a standalone thanks."""
    events: list[Event] = []
    start = T0
    for number in range(draw(st.integers(1, max_incidents))):
        start += timedelta(minutes=draw(st.sampled_from((0, 1, 90, 3 * 24 * 60))))
        events += draw(incident_history(f"INC-{number}", start))
    if draw(st.booleans()):
        writer = _Writer("THX-1")
        writer.emit("thanked", start, STORE, channel="phone", standalone=True)
        events += writer.events
    return events
