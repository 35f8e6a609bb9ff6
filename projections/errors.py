"""Errors raised by the read side."""

from __future__ import annotations


class ProjectionError(Exception):
    """Root of the read side's errors."""


class QueryError(ProjectionError):
    """A report was asked for with arguments that make no sense."""
