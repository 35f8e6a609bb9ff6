"""Channel mix: contacts (received + thanked) per month × channel × department."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from domain.classification import classification_history
from domain.incident import Incident, in_timeline_order
from projections.month import month_of
from projections.per_incident import HistoryLoader
from projections.read_model import Cursor, event_topics

UNKNOWN_DEPARTMENT = "unknown"
Key = tuple[str, str, str]  # (month, channel, department)


class ChannelMix:
    """Counts every contact by the month it reached Customer Service, its channel and department.

    An incident counts under its final channel: when a reclassification corrects the channel,
    its contact moves from the old channel to the new one (the final channel is taken from the
    incident's whole history in timeline order, so a late-arriving earlier correction does not
    win). A thanks counts under its own channel; one without a department counts for the
    department of the incident it thanks for. The read model keeps a small directory of the
    incidents' receipts (month, channel counted, department) for both.
    """

    name = "channel_mix"
    topics: tuple[str, ...] = event_topics(
        Incident.Received, Incident.Thanked, Incident.ThankedStandalone, Incident.Reclassified
    )
    tables: tuple[str, ...] = ("channel_mix", "channel_mix_receipts")

    def __init__(self, zone: ZoneInfo, load_histories: HistoryLoader) -> None:
        self.zone = zone
        self.load_histories = load_histories

    def create_tables(self, c: Cursor) -> None:
        c.execute(
            "CREATE TABLE IF NOT EXISTS channel_mix (month TEXT NOT NULL, channel TEXT NOT NULL,"
            " department TEXT NOT NULL, contacts INTEGER NOT NULL,"
            " PRIMARY KEY (month, channel, department))"
        )
        c.execute(
            "CREATE TABLE IF NOT EXISTS channel_mix_receipts (incident_id TEXT PRIMARY KEY,"
            " month TEXT NOT NULL, channel TEXT NOT NULL, department TEXT NOT NULL)"
        )

    def process(self, c: Cursor, events: Sequence[Incident.Event]) -> None:
        receipts = {
            e.originator_id: (month_of(e.occurred_at, self.zone), e.channel, e.department)
            for e in events
            if isinstance(e, Incident.Received)
        }
        wanted = {
            e.originator_id
            for e in events
            if (isinstance(e, Incident.Thanked) and not e.department)
            or (isinstance(e, Incident.Reclassified) and e.channel)
        } - receipts.keys()
        receipts.update(_receipts(c, sorted(wanted)))
        counts: Counter[Key] = Counter()
        for e in events:
            if isinstance(e, Incident.Received):
                counts[receipts[e.originator_id]] += 1
            elif isinstance(e, (Incident.Thanked, Incident.ThankedStandalone)):
                department = e.department or _department(receipts.get(e.originator_id))
                counts[(month_of(e.occurred_at, self.zone), e.channel, department)] += 1
        new = [e.originator_id for e in events if isinstance(e, Incident.Received)]
        moved = self._final_channels(events, receipts, counts)
        c.executemany(
            "INSERT INTO channel_mix_receipts VALUES (?, ?, ?, ?) ON CONFLICT (incident_id)"
            " DO UPDATE SET channel = excluded.channel",
            [(i, *receipts[i]) for i in sorted({*new, *moved})],
        )
        c.executemany(
            "INSERT INTO channel_mix VALUES (?, ?, ?, ?) ON CONFLICT (month, channel, department)"
            " DO UPDATE SET contacts = channel_mix.contacts + excluded.contacts",
            [(*key, n) for key, n in counts.items() if n],
        )
        if moved:  # a channel left with no contact is no channel of the mix
            c.execute("DELETE FROM channel_mix WHERE contacts = 0")

    def _final_channels(
        self, events: Sequence[Incident.Event], receipts: dict[str, Key], counts: Counter[Key]
    ) -> list[str]:
        """Move corrected incidents' contacts to their final channel; return those moved."""
        corrected = sorted(
            {e.originator_id for e in events if isinstance(e, Incident.Reclassified) and e.channel}
        )
        moved = []
        for incident_id, history in self.load_histories(corrected).items():
            classification = classification_history(in_timeline_order(history))
            receipt = receipts.get(incident_id)
            if classification is None or receipt is None:
                continue
            month, counted, department = receipt
            final = classification.final.channel
            if final != counted:
                counts[(month, counted, department)] -= 1
                counts[(month, final, department)] += 1
                receipts[incident_id] = (month, final, department)
                moved.append(incident_id)
        return moved


def _department(receipt: Key | None) -> str:
    return UNKNOWN_DEPARTMENT if receipt is None else receipt[2]


def _receipts(c: Cursor, incident_ids: Sequence[str]) -> dict[str, Key]:
    found: dict[str, Key] = {}
    for start in range(0, len(incident_ids), 500):
        chunk = incident_ids[start : start + 500]
        c.execute(
            "SELECT incident_id, month, channel, department FROM channel_mix_receipts"
            f" WHERE incident_id IN ({','.join('?' * len(chunk))})",
            chunk,
        )
        found.update({row[0]: (row[1], row[2], row[3]) for row in c.fetchall()})
    return found
