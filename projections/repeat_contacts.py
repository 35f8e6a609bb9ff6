"""Repeat contacts: the same customer coming back within N days (a counter-metric).

One row per received incident: its pseudonymous customer key (domain.customer_key; none for
a customer with neither phone nor e-mail, or stored before keys existed), when the customer
made contact (``reported_at``, else the receipt), the incident's month and final department
and category (as in the incident summaries). Like the other per-incident models, a touched
incident's row is computed again from its whole history: a pure function of its facts,
whatever the arrival order or the batches. Which contacts are repeats is asked at report
time, for any N.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from domain.incident import EVENT_CLASSES, Incident
from domain.incident_timeline import OrderedIncident
from projections.month import month_of
from projections.per_incident import PerIncidentRows
from projections.queries import Period, Row
from projections.read_model import Cursor, event_topics

TABLE = "customer_contacts"
DEFAULT_WITHIN_DAYS = 7
MAX_WITHIN_DAYS = 3660  # ten years: longer is no repeat contact
_CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (incident_id TEXT PRIMARY KEY, customer_key TEXT,"
    " contact_utc TEXT NOT NULL, month TEXT NOT NULL, department TEXT NOT NULL, category TEXT)"
)
_INDEXES = (
    f"CREATE INDEX IF NOT EXISTS {TABLE}_by_month ON {TABLE} (month, department)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_by_customer ON {TABLE} (customer_key, contact_utc)",
)


class RepeatContacts(PerIncidentRows):
    """The customer_contacts read model."""

    name = table = TABLE
    tables: tuple[str, ...] = (TABLE,)
    columns = ("incident_id", "customer_key", "contact_utc", "month", "department", "category")
    statements = (_CREATE, *_INDEXES)
    topics: tuple[str, ...] = event_topics(*EVENT_CLASSES)  # the final classification needs every fact

    def rows_of(self, timeline: OrderedIncident) -> list[tuple[object, ...]]:
        history = timeline.classification
        received = next((e for e in timeline.events if isinstance(e, Incident.Received)), None)
        if history is None or received is None:
            return []
        contact = datetime.fromisoformat(received.reported_at or received.occurred_at)
        final = history.final
        return [(
            received.originator_id, received.customer_key, contact.astimezone(UTC).isoformat(),
            month_of(received.occurred_at, self.zone), final.department, final.category,
        )]  # fmt: skip


@dataclass
class _Group:
    contacts: int = 0
    identified: int = 0
    repeats: int = 0
    categories: Counter[str] = field(default_factory=Counter)


def repeat_contact_rows(
    c: Cursor, period: Period, department: str | None, within_days: int = DEFAULT_WITHIN_DAYS,
    as_of: datetime | None = None,
) -> list[Row]:  # fmt: skip
    """Per month and department: contacts, those with a known customer, the repeats among
    those (the customer had another contact within ``within_days`` before), their share,
    and the categories the repeats come back about (most first). ``as_of``: only contacts
    made by then."""
    where, params = "month BETWEEN ? AND ?", [period.first, period.last]
    if department is not None:
        where += " AND department = ?"
        params.append(department)
    if as_of is not None:
        where += " AND contact_utc <= ?"
        params.append(as_of.astimezone(UTC).isoformat())
    c.execute(f"SELECT incident_id, customer_key, contact_utc, month, department, category FROM {TABLE} WHERE {where}", params)
    chosen = c.fetchall()
    earlier = _contacts_of(c, sorted({str(r[1]) for r in chosen if r[1] is not None}))
    window = timedelta(days=within_days)
    groups: dict[tuple[str, str], _Group] = {}
    for incident_id, key, contact_utc, month, dept, category in chosen:
        group = groups.setdefault((month, dept), _Group())
        group.contacts += 1
        if key is None:
            continue
        group.identified += 1
        if _came_back(earlier[key], incident_id, datetime.fromisoformat(contact_utc), window):
            group.repeats += 1
            group.categories[category or "(none)"] += 1
    return [
        {
            "month": month, "department": dept, "contacts": g.contacts,
            "known_customer": g.identified, "repeat_contacts": g.repeats,
            "repeat_share": g.repeats / g.identified if g.identified else None,
            "repeat_categories": ", ".join(f"{cat} {n}" for cat, n in sorted(g.categories.items(), key=lambda i: (-i[1], i[0]))),
        }
        for (month, dept), g in sorted(groups.items())
    ]  # fmt: skip


def _contacts_of(c: Cursor, keys: list[str]) -> dict[str, list[tuple[datetime, str]]]:
    """Every contact of these customers, any month: (instant, incident id)."""
    found: dict[str, list[tuple[datetime, str]]] = {k: [] for k in keys}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        c.execute(
            f"SELECT customer_key, contact_utc, incident_id FROM {TABLE}"
            f" WHERE customer_key IN ({','.join('?' * len(chunk))})", chunk,
        )  # fmt: skip
        for key, contact_utc, incident_id in c.fetchall():
            found[key].append((datetime.fromisoformat(contact_utc), incident_id))
    return found


def _came_back(contacts: list[tuple[datetime, str]], incident_id: str, at: datetime, window: timedelta) -> bool:
    """Whether another contact of the customer was made within ``window`` before ``at`` (one
    at the same instant counts when its incident id sorts first: of two simultaneous
    contacts, one is the repeat)."""
    return any(
        other != incident_id and at - window <= when and (when, other) < (at, incident_id)
        for when, other in contacts
    )
