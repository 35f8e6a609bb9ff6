"""Upstream values as the CLI prints them: text on a terminal and in a spreadsheet, never code.

- **Terminal**: every value is a rich ``Text`` (rich never reads markup, ``:emoji:`` codes or
  highlighting in a ``Text``) whose unprintable characters (``contracts.printable``: C0, DEL,
  C1, bidi and other format characters, separators, private use, unassigned) are written as
  escapes: ESC is ``\\x1b``, a newline ``\\n``, a right-to-left override ``\\u202e``.
- **CSV**: a text cell that a spreadsheet would evaluate (it begins with ``=``, ``+``, ``-``,
  ``@``, a tab or a carriage return) gets a leading ``'`` (OWASP), and unprintable characters
  are escaped as on the terminal; numbers stay numbers (-3 is written -3). ``raw`` keeps
  every cell exact, for machine consumers.
- **JSON**: exact values; unprintable characters are written as JSON ``\\u`` escapes, so the
  text is safe on a terminal and parses back to the very same value.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from contracts.printable import escaped, is_printable

# What a spreadsheet takes for the start of a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def shown(value: object) -> str:
    """``str(value)`` with its unprintable characters written as escapes."""
    return escaped(str(value))


def text(value: object, style: str = "") -> Text:
    """A value as terminal text: escaped, never markup."""
    return Text(shown(value), style=style)


def titled_table(title: str, **options: Any) -> Table:
    """An empty rich table whose title is text (``options`` as for ``Table``)."""
    return Table(title=text(title, style="table.title"), **options)


def say(console: Console, message: object) -> None:
    """Print one message that may hold values (file names, ids, reasons) as plain text."""
    console.print(text(message))


def csv_cell(value: object, raw: bool = False) -> object:
    """One CSV cell: numbers and empty cells as they are, text neutralised unless ``raw``."""
    if value is None or raw or isinstance(value, (int, float, Decimal)):
        return value
    cell = str(value)
    return ("'" if cell.startswith(FORMULA_STARTS) else "") + escaped(cell)


def json_text(value: Any) -> str:
    """JSON text of ``value`` (non-ASCII kept), with every unprintable character as ``\\u``."""
    written = json.dumps(value, ensure_ascii=False)
    if written.isprintable():
        return written
    # json.dumps escapes C0 already; the rest can only occur inside strings.
    return "".join(ch if is_printable(ch) else _json_escape(ch) for ch in written)


def _json_escape(character: str) -> str:
    return json.dumps(character)[1:-1]  # ensure_ascii: \u escapes, surrogate pairs for astral
