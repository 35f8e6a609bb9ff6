"""What read models kept per incident share: the touched incidents' whole histories, and the
replacing of their rows."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from domain.incident import Incident
from projections.read_model import Cursor

# Loads the stored events of incidents: id → events in version order.
HistoryLoader = Callable[[Sequence[str]], Mapping[str, Sequence[Incident.Event]]]


def touched_histories(
    events: Sequence[Incident.Event], load_histories: HistoryLoader
) -> tuple[dict[str, list[Incident.Event]], list[str]]:
    """Each touched incident's events so far, and the incidents begun before the batch.

    An incident whose first event is in the batch has all its events up to the batch's end in
    it too (for a read model that reads every topic its rows depend on: the runner hands over
    every notification of those topics in order), so only the others are read from the store.
    """
    batch: dict[str, list[Incident.Event]] = {}
    for e in events:
        batch.setdefault(e.originator_id, []).append(e)
    begun_earlier = [i for i, group in batch.items() if group[0].originator_version != 1]
    if begun_earlier:
        for incident_id, stored in load_histories(begun_earlier).items():
            batch[incident_id] = list(stored)
    return batch, begun_earlier


def delete_rows_of(c: Cursor, table: str, incident_ids: Sequence[str]) -> None:
    """Delete the rows of these incidents from ``table`` (500 ids a statement)."""
    for start in range(0, len(incident_ids), 500):
        chunk = incident_ids[start : start + 500]
        c.execute(f"DELETE FROM {table} WHERE incident_id IN ({','.join('?' * len(chunk))})", chunk)


class HistoryMemo:
    """Each incident's history loaded once per projection batch, for every read model asking.

    The runner calls ``forget`` when a batch begins, so what is known never outlives a batch
    (nor grows with the store).
    """

    def __init__(self, load_histories: HistoryLoader) -> None:
        self.load_histories = load_histories
        self._known: dict[str, Sequence[Incident.Event]] = {}
        self._asked: set[str] = set()

    def __call__(self, incident_ids: Sequence[str]) -> Mapping[str, Sequence[Incident.Event]]:
        missing = [i for i in incident_ids if i not in self._asked]
        if missing:
            self._known.update(self.load_histories(missing))
            self._asked.update(missing)
        return {i: self._known[i] for i in incident_ids if i in self._known}

    def forget(self) -> None:
        """Drop what was loaded (a new batch begins)."""
        self._known.clear()
        self._asked.clear()
