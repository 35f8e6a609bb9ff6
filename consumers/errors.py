"""Errors raised by the Kafka side of ticketstream."""

from __future__ import annotations


class ConsumerError(Exception):
    """Root of the consumer's errors."""


class BrokerUnavailable(ConsumerError):
    """The Kafka broker cannot be reached."""


class GaveUp(ConsumerError):
    """The broker or the database stayed out of reach for longer than the give-up time."""


class SecretMismatch(ConsumerError):
    """The customer key secret is not the one the store was last rotated to."""
