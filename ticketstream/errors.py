"""Errors of the composition root."""

from __future__ import annotations


class TicketstreamError(Exception):
    """A mistake the user can fix; the CLI prints it as one line and exits 2."""


class ConfigError(TicketstreamError):
    """A setting is invalid."""


class StoreUnreachable(ConfigError):
    """The PostgreSQL event store does not answer (perhaps only for now)."""


class NoBroker(TicketstreamError):
    """No Kafka broker is configured or running, and no private one was asked for."""
