"""Read models kept per incident: one load of the touched histories per batch, and stored
outcomes of unchanged stopped clocks kept instead of computed again."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from consumers.ingest import Ingest
from domain.incident import Incident
from domain.sla_rules import default_rules
from projections import sla_clocks
from projections.per_incident import HistoryMemo
from projections.runner import ProjectionRunner
from projections.sla_clocks import SlaClocks
from tests.unit.test_ingest import messages_of, open_app, wire

MOSCOW = ZoneInfo("Europe/Moscow")


def test_the_memo_loads_each_history_once_until_it_forgets() -> None:
    asked: list[list[str]] = []

    def load(ids: Sequence[str]) -> Mapping[str, Sequence[Incident.Event]]:
        asked.append(list(ids))
        return {i: [] for i in ids if i != "INC-NONE"}

    memo = HistoryMemo(load)

    memo(["INC-1", "INC-NONE"])
    second = memo(["INC-1", "INC-NONE", "INC-2"])
    memo.forget()
    memo(["INC-1"])

    assert asked == [["INC-1", "INC-NONE"], ["INC-2"], ["INC-1"]]
    assert set(second) == {"INC-1", "INC-2"}


def test_a_stopped_clock_unchanged_by_a_later_batch_keeps_its_stored_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_app(tmp_path / "e.db")
    runner = ProjectionRunner(app, [SlaClocks(default_rules(), app.histories, MOSCOW)])
    Ingest(app).process(messages_of([wire("received"), wire("escalated", hours=1)]))
    runner.catch_up()
    with runner.transaction(commit=False) as c:
        c.execute("SELECT * FROM sla_clocks ORDER BY clock")
        before = [tuple(r) for r in c.fetchall()]
    evaluated: list[str] = []
    real = sla_clocks.status_as_of
    monkeypatch.setattr(
        sla_clocks, "status_as_of",
        lambda row, *args: evaluated.append(row.clock) or real(row, *args),
    )  # fmt: skip
    Ingest(app).process(messages_of([wire("resolved", hours=3)], partition=1))

    runner.catch_up()

    # The handover stopped at the receipt: kept. The escalation and resolution stopped now.
    assert sorted(evaluated) == ["escalation_response", "ownership", "resolution"]
    with runner.transaction(commit=False) as c:
        c.execute("SELECT * FROM sla_clocks WHERE clock = 'handover'")
        assert [tuple(r) for r in c.fetchall()] == [r for r in before if r[1] == "handover"]
    app.close()


def test_a_commit_by_the_consumer_while_the_clocks_compute_does_not_fail_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two processes on one SQLite file (WAL): the projector computes, the consumer commits
    # meanwhile. A transaction that had read before it writes would now be refused at once.
    store = tmp_path / "e.db"
    projecting, consuming = open_app(store), open_app(store)
    runner = ProjectionRunner(
        projecting, [SlaClocks(default_rules(), projecting.histories, MOSCOW)]
    )
    Ingest(consuming).process(messages_of([wire("received"), wire("escalated", hours=1)]))
    runner.catch_up()
    Ingest(consuming).process(messages_of([wire("resolved", hours=3)], partition=1))
    committed: list[int] = []
    real = sla_clocks.compute_clocks

    def computing_while_the_consumer_commits(*args: object) -> object:
        if not committed:
            more = wire("received", "INC-2", hours=4)
            committed.append(Ingest(consuming).process(messages_of([more], partition=2)).applied)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(sla_clocks, "compute_clocks", computing_while_the_consumer_commits)

    runner.catch_up()

    assert committed == [1]
    assert all(status.lag == 0 for status in runner.status())
    projecting.close()
    consuming.close()
