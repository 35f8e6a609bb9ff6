"""The whole histories of the incidents a batch touches, read from the store only where needed."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from domain.incident import Incident

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
