"""Zero-downtime rebuild on SQLite and on the local PostgreSQL: the shadow is built while the
live read models keep answering, a concurrent `report sla` reader only ever sees the numbers of
before or of after, the diff says what changed, and events that arrive meanwhile are not lost."""

from __future__ import annotations

import multiprocessing
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from consumers.ingest import Ingest
from domain.application import Incidents
from domain.incident import Incident
from domain.sla_rules import SlaRules, default_rules
from producers.simulator import SimulationSpec, simulate
from projections.channel_mix import ChannelMix
from projections.per_incident import HistoryMemo
from projections.queries import Period
from projections.read_model import Cursor, ReadModel
from projections.runner import ProjectionRunner
from projections.shadow import rebuild
from projections.sla_clocks import SlaClocks
from projections.sla_queries import ClockFilter
from tests.integration.conftest import POSTGRES_URL
from tests.unit.test_ingest import messages_of
from tests.unit.test_sla_fingerprint import stricter
from ticketstream.event_store import drop_schema, ensure_schema, event_store_env
from projections.read_side import ReadSide
from projections.store_reader import DatastoreReader
from ticketstream.sla_reports import SlaQuestion
from testkit.read_models import table_rows as read_model_rows

UTC_ZONE = ZoneInfo("UTC")
AS_OF = datetime(2025, 6, 1, tzinfo=UTC)
# One month of one department: cheap enough to be asked many times during a rebuild.
QUESTION = SlaQuestion(ClockFilter(Period("2025-03", "2025-03"), "call_centre", None), AS_OF)


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "e.db")
        return
    url = f"{POSTGRES_URL}?schema=rebuild_{uuid.uuid4().hex[:12]}"
    ensure_schema(url)
    try:
        yield url
    finally:
        drop_schema(url)


def runner_of(app: Incidents, rules: SlaRules) -> ProjectionRunner:
    memo = HistoryMemo(app.histories)
    models: list[ReadModel] = [SlaClocks(rules, memo, UTC_ZONE), ChannelMix(UTC_ZONE, memo)]
    return ProjectionRunner(app, models, batch_size=500, histories=memo)


def filled(location: str, events: Sequence[dict[str, Any]]) -> Incidents:
    app = Incidents(env=event_store_env(location))
    Ingest(app).process(messages_of(events))
    runner_of(app, default_rules()).catch_up()
    return app


def events_of(incidents_per_month: int, seed: int = 7) -> list[dict[str, Any]]:
    spec = SimulationSpec(months=3, seed=seed, start=date(2025, 2, 1), incidents_per_month=incidents_per_month)
    return simulate(spec)


def ask(runner: ProjectionRunner, rules: SlaRules) -> object:
    """What `report sla` answers (its summary rows)."""
    return ReadSide(DatastoreReader(runner.app), UTC_ZONE, rules).sla(QUESTION).rows


def _read_in_a_loop(location: str, ready: Any, stop: Any, answers: Any) -> None:
    """In a process of its own (no lock shared with the rebuild): ask until ``stop`` is set."""
    app = Incidents(env=event_store_env(location))
    rules = stricter()
    runner = ProjectionRunner(app, [SlaClocks(rules, app.histories, UTC_ZONE)])
    found = []
    while not stop.is_set():
        found.append((time.monotonic(), ask(runner, rules)))
        ready.set()
    app.close()
    answers.put(found)


class Reader:
    """`report sla` asked again and again by another process, each answer timed."""

    def __init__(self, location: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.ready, self._stop, self._answers = context.Event(), context.Event(), context.Queue()
        self._process = context.Process(
            target=_read_in_a_loop, args=(location, self.ready, self._stop, self._answers)
        )
        self.answers: list[tuple[float, object]] = []

    def __enter__(self) -> Reader:
        self._process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.answers = self._answers.get(timeout=120)
        self._process.join(timeout=60)


def test_a_reader_during_a_rebuild_sees_the_old_numbers_or_the_new_never_empty_or_partial(
    location: str,
) -> None:
    # Big enough for the rebuild to take seconds (PostgreSQL ingests more slowly).
    app = filled(location, events_of(500 if "://" in location else 1500))
    rules = stricter()  # the configuration changed: a resolution target of ten working hours
    runner = runner_of(app, rules)
    before = ask(runner, rules)
    reader = Reader(location)
    with reader:
        assert reader.ready.wait(timeout=120)
        started = time.monotonic()
        built = rebuild(runner, ["sla_clocks"])
        ended = time.monotonic()
        time.sleep(0.3)
    after = ask(runner, rules)
    app.close()

    assert before != after and before and after  # the rebuild changes the numbers
    during = [answer for at, answer in reader.answers if started <= at <= ended]
    print(f"rebuild of {built.notifications} notifications: {ended - started:.2f} s;"
          f" {len(reader.answers)} reads, {len(during)} during the rebuild")
    wrong = [answer for _, answer in reader.answers if answer not in (before, after)]
    assert not wrong, f"{len(wrong)} of {len(reader.answers)} reads were neither before nor after"
    assert len(during) >= 5  # the loop really ran while the rebuild did
    assert during.count(before) >= 3
    assert any(answer == after for at, answer in reader.answers if at > ended)
    [clocks, _rules] = built.diffs
    assert clocks.changed > 0 and sum(clocks.statuses.values()) > 0
    assert any("clocks: met → breached" in line for line in clocks.lines())


def test_a_dry_run_prints_the_diff_and_leaves_the_live_read_models_as_they_were(location: str) -> None:
    app = filled(location, events_of(30))
    runner = runner_of(app, stricter())
    live = read_model_rows(runner)

    built = rebuild(runner, ["sla_clocks"], dry_run=True)

    assert not built.swapped and read_model_rows(runner) == live
    clocks = built.diffs[0]
    assert (clocks.table, clocks.added, clocks.removed) == ("sla_clocks", 0, 0)
    assert clocks.changed >= sum(clocks.statuses.values()) > 0
    assert {old for old, _ in clocks.statuses} == {"met"}  # only stricter: met → breached
    app.close()


def test_events_folded_in_by_project_during_the_rebuild_are_not_lost(location: str) -> None:
    events = events_of(60, seed=9)
    half = len(events) // 2
    app = filled(location, events[:half])
    runner = runner_of(app, default_rules())
    live = runner_of(Incidents(env=event_store_env(location)), default_rules())  # `project`
    arrived = []

    def meanwhile(n: int) -> None:
        if not arrived:  # new events, and `project` folding them into the live tables
            arrived.append(Ingest(app).process(messages_of(events)[half:]).applied)
            live.catch_up()

    rebuild(runner, [], progressed=meanwhile)
    live.catch_up()  # `project` goes on from the rebuilt position

    assert arrived and arrived[0] > 0
    assert read_model_rows(live) == clean_read_models(location, events)
    app.close()
    live.app.close()


class SwappedDuringItsBatch(ChannelMix):
    """The channel mix of a `project` whose batch is computed, then a rebuild is swapped in
    before the batch writes."""

    def __init__(self, app: Incidents, swap: Callable[[], object]) -> None:
        super().__init__(UTC_ZONE, app.histories)
        self.swap: Callable[[], object] | None = swap

    def prepare(self, read: Cursor, events: Sequence[Incident.Event]) -> None:
        if self.swap is not None:
            swap, self.swap = self.swap, None
            swap()


def test_a_batch_of_project_computed_before_a_swap_is_not_written_after_it(location: str) -> None:
    events = events_of(60, seed=11)
    half = len(events) // 2
    app = filled(location, events[:half])
    Ingest(app).process(messages_of(events)[half:])
    rebuilding = runner_of(app, default_rules())
    other = Incidents(env=event_store_env(location))
    model = SwappedDuringItsBatch(other, lambda: rebuild(rebuilding, ["channel_mix"]))
    live = ProjectionRunner(other, [model], batch_size=100_000)

    live.catch_up()

    assert model.swap is None  # the swap came between the batch's computing and its writing
    clean = clean_read_models(location, events)
    assert read_model_rows(live) == {t: clean[t] for t in model.tables}
    app.close()
    other.close()


def clean_read_models(location: str, events: Sequence[dict[str, Any]]) -> dict[str, list[tuple[object, ...]]]:
    """The read models of a clean store holding ``events``."""
    postgres = "://" in location
    other = location.replace("schema=", "schema=clean") if postgres else f"{location}.clean"
    if postgres:
        ensure_schema(other)
    app = filled(other, events)
    try:
        return read_model_rows(runner_of(app, default_rules()))
    finally:
        app.close()
        if postgres:
            drop_schema(other)
