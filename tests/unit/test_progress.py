"""Progress of long commands: a bar on a terminal, log lines otherwise."""

from __future__ import annotations

import io

import pytest
import structlog
from rich.console import Console

from ticketstream import progress as progress_module
from ticketstream.progress import progress


def test_on_a_terminal_a_bar_counts_the_items_done() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)

    with progress(console, "replaying", 10) as advance:
        for _ in range(4):
            advance(1)
        advance(6)

    assert "replaying" in screen.getvalue() and "10/10" in screen.getvalue()


def test_off_a_terminal_a_log_line_says_how_far_it_got(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress_module, "LOG_EVERY_SECONDS", 0.0)
    console = Console(file=io.StringIO(), force_terminal=False)

    with structlog.testing.capture_logs() as logs, progress(console, "projecting", 500) as advance:
        advance(200)
        advance(300)

    lines = [e for e in logs if e["event"] == "progress"]
    assert [(e["doing"], e["done"], e["total"]) for e in lines] == [("projecting", 200, 500), ("projecting", 500, 500)]
    assert console.file.getvalue() == ""  # type: ignore[attr-defined]
