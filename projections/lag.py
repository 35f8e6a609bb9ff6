"""How far behind the event store's head a read model is, in time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.application import Incidents
from domain.incident import Incident


@dataclass(frozen=True)
class TimeBehind:
    """``event``: event time of the head minus that of the first notification not yet folded
    in; ``wall``: how long ago that notification was stored. Zero when caught up."""

    event: timedelta
    wall: timedelta


def time_behind(app: Incidents, position: int, head: int, now: datetime) -> TimeBehind:
    """How far behind a read model at ``position`` is, with ``head`` the newest notification."""
    if position >= head:
        return TimeBehind(timedelta(0), timedelta(0))
    first = _event_at(app, position + 1)
    last = _event_at(app, head)
    first_time = datetime.fromisoformat(first.occurred_at)
    last_time = datetime.fromisoformat(last.occurred_at)
    return TimeBehind(max(last_time - first_time, timedelta(0)), max(now - first.timestamp, timedelta(0)))


def _event_at(app: Incidents, notification_id: int) -> Incident.Event:
    # The first notification at or after the id (ids may have gaps after failed inserts).
    notification = app.recorder.select_notifications(start=notification_id, limit=1)[0]
    event = app.mapper.to_domain_event(notification)
    assert isinstance(event, Incident.Event)
    return event
