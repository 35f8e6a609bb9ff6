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
