"""One incident's stored events put in timeline order once, for everything computed from them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from operator import lt

from domain.calendar import as_utc
from domain.classification import ClassificationHistory, classification_history
from domain.incident import Incident, entry_of
from domain.timeline import arrange


@dataclass(frozen=True, slots=True)
class OrderedIncident:
    """An incident's events once each, in timeline order (`in_timeline_order`), with the
    instant (UTC) of each and its classification history (None: no receipt, so no clocks and
    no summary)."""

    events: list[Incident.Event]
    instants: list[datetime]
    classification: ClassificationHistory | None


def ordered_incident(events: Iterable[Incident.Event]) -> OrderedIncident:
    """The events of one incident, given in any order, put in timeline order."""
    unique = {e.event_id: e for e in events if e.KIND}
    ordered = list(unique.values())
    moments = [datetime.fromisoformat(e.occurred_at) for e in ordered]
    # The common case: given (in version order) with every instant later than the one
    # before, which is then the timeline order (no two facts share an instant).
    if not all(map(lt, moments, islice(moments, 1, None))):
        entries = arrange(map(entry_of, ordered))
        ordered = [unique[entry.event_id] for entry in entries]
        moments = [entry.occurred_at for entry in entries]
    instants = [as_utc(moment) for moment in moments]
    return OrderedIncident(ordered, instants, classification_history(ordered, instants))
