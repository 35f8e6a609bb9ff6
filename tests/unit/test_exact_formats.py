"""Machine formats carry exact numbers; only a table rounds."""

from __future__ import annotations

import io
import json

from rich.console import Console

from ticketstream.report_output import render

ROWS = [{"month": "2025-01", "channel": "chat", "contacts": 1, "share": 1 / 41, "median_minutes": 12.345678}]


def _rendered(fmt: str) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    render(ROWS, fmt, "Channel mix", console)  # type: ignore[arg-type]
    return console.file.getvalue()  # type: ignore[attr-defined, no-any-return]


def test_json_and_csv_carry_the_exact_fraction_and_the_table_rounds_it() -> None:
    assert json.loads(_rendered("json"))[0]["share"] == 1 / 41
    assert repr(1 / 41) in _rendered("csv") and "12.345678" in _rendered("csv")
    table = _rendered("table")
    assert "2.4%" in table and "12.35" in table and repr(1 / 41) not in table
