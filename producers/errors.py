"""Errors raised on the publishing side."""

from __future__ import annotations


class PublishError(Exception):
    """Events could not be published (broker unreachable, send failed, bad input)."""


class InvalidLine(PublishError):
    """A JSONL line is not a valid event."""

    def __init__(self, line_number: int, reason: str, detail: str) -> None:
        super().__init__(f"line {line_number}: {reason}: {detail}")
        self.line_number = line_number
        self.reason = reason
        self.detail = detail


class InvalidRow(PublishError):
    """A row of a source export cannot be imported; names its line and, if one, its column.

    The message never quotes a value that may be personal data.
    """

    def __init__(self, line_number: int, column: str | None, problem: str) -> None:
        where = f"line {line_number}" + (f", column {column}" if column else "")
        super().__init__(f"{where}: {problem}")
        self.line_number = line_number
        self.column = column
        self.problem = problem
