"""The projection runner: catches read models up with the event store's notification log."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import structlog
from eventsourcing.persistence import Notification

from domain.application import Incidents
from domain.incident import Incident
from projections import portable_cursor
from projections.errors import ProjectionError
from projections.per_incident import HistoryMemo
from projections.portable_cursor import PortableCursor
from projections.read_model import ReadModel

log = structlog.get_logger(__name__)

_TRACKING_TABLE = (
    "CREATE TABLE IF NOT EXISTS projection_tracking ("
    " projection TEXT PRIMARY KEY, notification_id BIGINT NOT NULL)"
)
# How many times each read model was swapped for a rebuilt one (projections.shadow): a batch
# computed before a swap is not written after it.
_REBUILDS_TABLE = (
    "CREATE TABLE IF NOT EXISTS projection_rebuilds ("
    " projection TEXT PRIMARY KEY, rebuilds BIGINT NOT NULL)"
)
TransactionFactory = Callable[..., AbstractContextManager[PortableCursor]]


class _Superseded(Exception):
    """A read model was swapped for a rebuilt one while a batch was being computed."""


@dataclass(frozen=True)
class ProjectionStatus:
    """How far one read model is behind the event store."""

    name: str
    position: int
    head: int

    @property
    def lag(self) -> int:
        """Notifications not yet folded into the read model."""
        return self.head - self.position


class ProjectionRunner:
    """Feeds the read models, each with its own position, one transaction per batch."""

    def __init__(
        self, app: Incidents, read_models: Sequence[ReadModel], batch_size: int = 10_000,
        histories: HistoryMemo | None = None, transaction: TransactionFactory | None = None,
    ) -> None:  # fmt: skip
        """``histories``: the loader the read models share, forgotten at each batch;
        ``transaction``: where the read models' tables are (default: the event store's
        database; a rebuild gives its shadow's)."""
        self.app = app
        self.histories = histories
        self.read_models = {m.name: m for m in read_models}
        self.batch_size = batch_size
        # Seconds each read model has spent folding events in, since this runner started.
        self.seconds: dict[str, float] = dict.fromkeys(self.read_models, 0.0)
        self.datastore = app.recorder.datastore  # type: ignore[attr-defined]
        self._transaction = transaction
        with self.transaction(commit=True) as c:
            c.execute(_TRACKING_TABLE)
            c.execute(_REBUILDS_TABLE)
            for model in read_models:
                model.create_tables(c)

    def transaction(self, *, commit: bool) -> AbstractContextManager[PortableCursor]:
        """A transaction on the read models' database (the event store's)."""
        if self._transaction is not None:
            return self._transaction(commit=commit)
        return portable_cursor.transaction(self.datastore, commit=commit)

    def positions(self) -> dict[str, int]:
        """The last notification id each read model has folded in (0 = none)."""
        with self.transaction(commit=False) as c:
            return self._positions(c)

    def _positions(self, c: PortableCursor) -> dict[str, int]:
        c.execute("SELECT projection, notification_id FROM projection_tracking")
        stored = {row[0]: row[1] for row in c.fetchall()}
        return {name: stored.get(name, 0) for name in self.read_models}

    def _rebuilds(self, c: PortableCursor) -> dict[str, int]:
        c.execute("SELECT projection, rebuilds FROM projection_rebuilds")
        return {row[0]: row[1] for row in c.fetchall()}

    def status(self) -> list[ProjectionStatus]:
        """Position and lag of every read model."""
        head = self.app.recorder.max_notification_id() or 0
        return [ProjectionStatus(n, p, head) for n, p in self.positions().items()]

    def catch_up(self, progressed: Callable[[int], None] = lambda n: None) -> int:
        """Process batches until every read model is at the head; return notifications read
        (``progressed`` is told of each batch)."""
        total = 0
        while (count := self.run_batch()) > 0:
            total += count
            progressed(count)
        return total

    def backlog(self) -> int:
        """Notifications between the read model furthest behind and the head (an upper bound
        of what a catch-up reads)."""
        head = self.app.recorder.max_notification_id() or 0
        return head - min(self.positions().values(), default=head)

    def run_forever(
        self, should_stop: Callable[[], bool], poll_seconds: float = 0.5,
        step: Callable[[], int] | None = None,
    ) -> None:  # fmt: skip
        """Keep the read models current until ``should_stop()`` (SQLite has no push, so poll).

        ``step`` runs one batch (default `run_batch`), e.g. wrapped in a retry policy.
        """
        run = step or self.run_batch
        while not should_stop():
            if run() == 0:
                time.sleep(poll_seconds)

    def run_batch(self) -> int:
        """Fold the next batch of notifications into every read model behind the head."""
        with _collector_paused():
            try:
                return self._run_batch()
            finally:
                if self.histories is not None:
                    self.histories.forget()  # what the batch computed, gone before collecting

    def _run_batch(self) -> int:
        try:
            return self._fold_batch()
        except _Superseded:
            log.info("projection_batch_superseded", reason="a rebuilt read model was swapped in")
            return 1  # the next batch starts from the rebuilt position

    def _fold_batch(self) -> int:
        with self.transaction(commit=False) as c:  # one snapshot: no swap between the two
            positions, rebuilds = self._positions(c), self._rebuilds(c)
        head = self.app.recorder.max_notification_id() or 0
        behind = [m for m in self.read_models.values() if positions[m.name] < head]
        if not behind:
            return 0
        start = min(positions[m.name] for m in behind)
        topics = sorted({t for m in behind for t in m.topics})
        notifications = self.app.recorder.select_notifications(
            start=start, limit=self.batch_size, stop=head, topics=topics,
            inclusive_of_start=False,
        )
        end = notifications[-1].id if len(notifications) == self.batch_size else head
        if self.histories is not None:
            self.histories.forget()
        log.debug("projection_batch_started", after=start, to=end, events=len(notifications))
        events = [(n.id, self._event(n), n.topic) for n in notifications]
        batches = {
            model: [e for i, e, topic in events if i > positions[model.name] and topic in model.topics]
            for model in behind
            if positions[model.name] < end  # one further ahead waits for the others to reach it
        }
        # Computing happens before the write transaction: on SQLite (WAL) a transaction that
        # reads, then writes after another writer committed, is refused at once, and one that
        # writes first would hold the write lock (and the consumer) for the whole computing.
        with self.transaction(commit=False) as read:
            for model, mine in batches.items():
                prepare = getattr(model, "prepare", None)
                if prepare is not None:
                    self._timed(model, lambda: prepare(read, mine))
        with self.transaction(commit=True) as c:
            c.executemany(  # the first statement writes: the lock is taken, not upgraded
                "INSERT INTO projection_tracking VALUES (?, ?) ON CONFLICT (projection)"
                " DO UPDATE SET notification_id = excluded.notification_id",
                [(model.name, end) for model in batches],
            )
            now = self._rebuilds(c)
            if any(now.get(m.name) != rebuilds.get(m.name) for m in batches):
                raise _Superseded  # rolls the batch back
            for model, mine in batches.items():
                self._timed(model, lambda: model.process(c, mine))
        log.debug("projections_advanced", to=end, events=len(events))
        return max(len(notifications), 1)

    def _timed(self, model: ReadModel, work: Callable[[], object]) -> None:
        started = time.perf_counter()
        work()
        self.seconds[model.name] += time.perf_counter() - started

    def chosen(self, names: Sequence[str]) -> list[ReadModel]:
        """The read models of these names (every one when none is given).

        Raises:
            ProjectionError: for an unknown name.
        """
        unknown = [n for n in names if n not in self.read_models]
        if unknown:
            known = ", ".join(sorted(self.read_models))
            raise ProjectionError(f"no projection named '{unknown[0]}'; known: {known}")
        return [self.read_models[n] for n in dict.fromkeys(names or self.read_models)]

    def rebuild(self, *names: str, progressed: Callable[[int], None] = lambda n: None) -> int:
        """Rebuild these read models (every one when no name is given) from the whole store
        while the live ones keep answering, and swap them in (`projections.shadow.rebuild`),
        then catch every read model up; return notifications read.

        Raises:
            ProjectionError: for an unknown read model name (then nothing is touched).
        """
        from projections.shadow import rebuild  # noqa: PLC0415 (it builds runners of its own)

        return rebuild(self, names, progressed=progressed).notifications + self.catch_up(progressed)

    def _event(self, notification: Notification) -> Incident.Event:
        event = self.app.mapper.to_domain_event(notification)
        assert isinstance(event, Incident.Event)
        return event


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch runs.

    A batch makes hundreds of thousands of objects that live until it ends; the collector
    would traverse them again and again (a fifth of the batch's time). What the batch leaves
    is bounded by the batch size and collected as usual once it is over.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
