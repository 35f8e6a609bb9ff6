"""`projections rebuild --incident`: the rows of some incidents computed again in place, in one
transaction, for the read models kept per incident."""

from __future__ import annotations

from collections.abc import Sequence

from projections.errors import ProjectionError
from projections.per_incident import PerIncidentRows, delete_rows_of
from projections.read_model import ReadModel
from projections.runner import ProjectionRunner
from projections.sla_clocks import SlaClocks


def incident_table(model: ReadModel) -> str | None:
    """The table of a read model kept per incident (None: an aggregate one)."""
    if isinstance(model, PerIncidentRows):
        return model.table
    if isinstance(model, SlaClocks):
        return "sla_clocks"
    return None


def recompute_incidents(runner: ProjectionRunner, models: Sequence[ReadModel], incident_ids: Sequence[str]) -> int:
    """Replace these incidents' rows in these per-incident read models by rows computed from
    their whole stored histories, in one transaction; return the events read.

    The positions stay: `project` folding those events again computes the same rows.

    Raises:
        ProjectionError: an incident the store does not hold, or an aggregate read model.
    """
    aggregate = [m.name for m in models if incident_table(m) is None]
    if aggregate:
        raise ProjectionError(f"'{aggregate[0]}' is not kept per incident: rebuild it whole")
    histories = runner.app.histories(list(dict.fromkeys(incident_ids)))
    missing = [i for i in incident_ids if i not in histories]
    if missing:
        raise ProjectionError(f"no incident '{missing[0]}' in the event store")
    events = [e for history in histories.values() for e in history]
    if runner.histories is not None:
        runner.histories.forget()
    with runner.transaction(commit=False) as read:  # computing before the write lock is taken
        for model in models:
            prepare = getattr(model, "prepare", None)
            if prepare is not None:
                prepare(read, events)
    with runner.transaction(commit=True) as c:
        for model in models:
            table = incident_table(model)
            assert table is not None
            delete_rows_of(c, table, list(histories))
            model.process(c, events)
    return len(events)
