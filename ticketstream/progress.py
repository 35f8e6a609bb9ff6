"""Progress of long work: a rich bar on a terminal, a structured log line every few seconds
otherwise (errors are printed after the bar is gone, never behind it)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import structlog
from rich.console import Console
from rich.progress import (
    BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn,
)
from rich.text import Text

log = structlog.get_logger(__name__)

LOG_EVERY_SECONDS = 10.0

Advance = Callable[[int], None]


class _Rate(ProgressColumn):
    """Items per second."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.0f}/s" if task.speed else "")


@contextmanager
def progress(console: Console, doing: str, total: int | None) -> Iterator[Advance]:
    """A callback that counts items done toward ``total`` (None: unknown)."""
    if console.is_terminal:
        columns = (TextColumn(doing), BarColumn(), MofNCompleteColumn(), _Rate(), TimeRemainingColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task(doing, total=total)
            yield lambda n: bar.advance(task, n)
        return
    done, started, logged = 0, time.monotonic(), time.monotonic()

    def advance(n: int) -> None:
        nonlocal done, logged
        done += n
        now = time.monotonic()
        if now - logged >= LOG_EVERY_SECONDS:
            logged = now
            rate = done / max(now - started, 1e-9)
            log.info("progress", doing=doing, done=done, total=total, per_second=round(rate))

    yield advance
