"""What read models kept per incident share: the touched incidents' whole histories, and the
replacing of their rows."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from operator import is_
from zoneinfo import ZoneInfo

from domain.incident import Incident
from domain.incident_timeline import OrderedIncident, ordered_incident
from projections.read_model import Cursor

# Loads the stored events of incidents: id → events in version order.
HistoryLoader = Callable[[Sequence[str]], Mapping[str, Sequence[Incident.Event]]]


def touched_histories(
    events: Sequence[Incident.Event], load_histories: HistoryLoader,
    known: Mapping[str, list[Incident.Event]] | None = None,
) -> tuple[dict[str, list[Incident.Event]], list[str]]:  # fmt: skip
    """Each touched incident's events so far, and the incidents begun before the batch.

    An incident whose first event is in the batch has all its events up to the batch's end in
    it too (for a read model that reads every topic its rows depend on: the runner hands over
    every notification of those topics in order), so only the others are read from the store,
    but for those ``known`` has every earlier event of (versions 1 to the one before the
    batch's first: the events of the previous batch).
    """
    batch: dict[str, list[Incident.Event]] = {}
    for e in events:
        batch.setdefault(e.originator_id, []).append(e)
    begun_earlier = [i for i, group in batch.items() if group[0].originator_version != 1]
    missing = begun_earlier
    if known:
        missing = []
        for incident_id in begun_earlier:
            group, before = batch[incident_id], known.get(incident_id)
            if before and before[-1].originator_version == group[0].originator_version - 1:
                batch[incident_id] = [*before, *group]
            else:
                missing.append(incident_id)
    if missing:
        for incident_id, stored in load_histories(missing).items():
            batch[incident_id] = list(stored)
    return batch, begun_earlier


class Touched:
    """The incidents a batch touches: their histories so far (`touched_histories`), each put in
    timeline order when first asked for."""

    def __init__(
        self, events: Sequence[Incident.Event], load_histories: HistoryLoader,
        known: Mapping[str, list[Incident.Event]] | None = None,
    ) -> None:  # fmt: skip
        self.histories, self.begun_earlier = touched_histories(events, load_histories, known)
        self._ordered: dict[str, OrderedIncident] = {}

    def whole(self) -> dict[str, list[Incident.Event]]:
        """The histories that hold every event of their incident so far (versions 1 to n)."""
        return {
            incident_id: history
            for incident_id, history in self.histories.items()
            if history[0].originator_version == 1 and history[-1].originator_version == len(history)
        }

    def ordered(self, incident_id: str) -> OrderedIncident:
        """The incident's history in timeline order."""
        found = self._ordered.get(incident_id)
        if found is None:
            found = self._ordered[incident_id] = ordered_incident(self.histories[incident_id])
        return found


def touched(events: Sequence[Incident.Event], load_histories: HistoryLoader) -> Touched:
    """The incidents the events touch; worked out once per batch for every read model given
    the same events, when ``load_histories`` is the runner's `HistoryMemo`."""
    if isinstance(load_histories, HistoryMemo):
        return load_histories.touched(events)
    return Touched(events, load_histories)


def delete_rows_of(c: Cursor, table: str, incident_ids: Sequence[str]) -> None:
    """Delete the rows of these incidents from ``table`` (500 ids a statement)."""
    for start in range(0, len(incident_ids), 500):
        chunk = incident_ids[start : start + 500]
        c.execute(f"DELETE FROM {table} WHERE incident_id IN ({','.join('?' * len(chunk))})", chunk)


# How many events of recently touched incidents the runner keeps between batches (~1.5 KB
# each): an incident's next facts mostly come within a few batches, and then its history need
# not be read and decoded again.
RECENT_EVENTS = 30_000


class HistoryMemo:
    """Each incident's history loaded once per projection batch, for every read model asking,
    and the whole histories of the incidents touched last kept for the batches after.

    The runner calls ``forget`` when a batch begins, so what was loaded never outlives a batch;
    what is kept across batches is bounded by ``recent_events`` (not by the store's size).
    """

    def __init__(self, load_histories: HistoryLoader, recent_events: int = RECENT_EVENTS) -> None:
        self.load_histories = load_histories
        self.recent_events = recent_events
        self._known: dict[str, Sequence[Incident.Event]] = {}
        self._asked: set[str] = set()
        self._touched: tuple[Sequence[Incident.Event], Touched] | None = None
        # The whole histories of the incidents touched last, least recently touched first:
        # what a batch's incidents begun earlier need, instead of reading them again.
        self._recent: OrderedDict[str, list[Incident.Event]] = OrderedDict()
        self._recent_count = 0

    def __call__(self, incident_ids: Sequence[str]) -> Mapping[str, Sequence[Incident.Event]]:
        missing = [i for i in incident_ids if i not in self._asked]
        if missing:
            self._known.update(self.load_histories(missing))
            self._asked.update(missing)
        return {i: self._known[i] for i in incident_ids if i in self._known}

    def touched(self, events: Sequence[Incident.Event]) -> Touched:
        """`Touched` of these events: the last one again for the very same events."""
        last = self._touched
        if last is not None and len(last[0]) == len(events) and all(map(is_, last[0], events)):
            return last[1]
        found = Touched(events, self, self._recent)
        self._touched = (events, found)
        return found

    def forget(self) -> None:
        """Drop what was loaded (a new batch begins), but keep the whole histories of the
        incidents the batch touched among the recent ones: later batches' events continue some
        of them (checked by version)."""
        self._known.clear()
        self._asked.clear()
        if self._touched is not None:
            recent = self._recent
            for incident_id, history in self._touched[1].whole().items():
                before = recent.pop(incident_id, None)
                self._recent_count += len(history) - (0 if before is None else len(before))
                recent[incident_id] = history
            while self._recent_count > self.recent_events and recent:
                self._recent_count -= len(recent.popitem(last=False)[1])
        self._touched = None


class PerIncidentRows:
    """A read model of rows per incident, each touched incident's rows computed again from its
    whole history in timeline order: the batch's rows are computed in ``prepare`` (before the
    runner's write transaction), then the rows of incidents begun earlier are replaced.

    Subclasses name ``name``, ``table``, ``columns``, ``statements`` (DDL) and ``rows_of``.
    """

    name: str
    table: str
    columns: tuple[str, ...]
    statements: tuple[str, ...]
    tables: tuple[str, ...]

    def __init__(self, load_histories: HistoryLoader, zone: ZoneInfo) -> None:
        self.load_histories = load_histories
        self.zone = zone
        self._plan: tuple[list[tuple[object, ...]], list[str]] | None = None

    def rows_of(self, timeline: OrderedIncident) -> list[tuple[object, ...]]:
        """The rows of one incident (values of ``columns``)."""
        raise NotImplementedError

    def create_tables(self, c: Cursor) -> None:
        for statement in self.statements:
            c.execute(statement)

    def prepare(self, read: Cursor, events: Sequence[Incident.Event]) -> None:
        """Compute the batch's rows (before the runner's write transaction)."""
        self._plan = self._planned(events)

    def process(self, c: Cursor, events: Sequence[Incident.Event]) -> None:
        (rows, begun_earlier), self._plan = self._plan or self._planned(events), None
        # Rows exist only for incidents begun before this batch (its position commits with them).
        delete_rows_of(c, self.table, begun_earlier)
        c.executemany(
            f"INSERT INTO {self.table} ({', '.join(self.columns)})"
            f" VALUES ({', '.join('?' * len(self.columns))})",
            rows,
        )

    def _planned(self, events: Sequence[Incident.Event]) -> tuple[list[tuple[object, ...]], list[str]]:
        batch = touched(events, self.load_histories)
        rows = [row for incident_id in batch.histories for row in self.rows_of(batch.ordered(incident_id))]
        return rows, batch.begun_earlier
