"""structlog configuration: JSON lines, or a console renderer on a terminal; never payloads."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_PERSONAL_KEYS = {"customer", "customer_name", "customer_phone", "customer_email", "name", "phone"}


def _mask_personal_data(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in _PERSONAL_KEYS & event_dict.keys():
        event_dict[key] = "***"
    return event_dict


def configure_logging(level: str = "INFO", fmt: str = "auto") -> None:
    """Send structlog events to stderr at ``level`` as JSON or console lines."""
    console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer: Any = (
        structlog.dev.ConsoleRenderer() if console else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _mask_personal_data,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # kafka-python logs every failed connection attempt through the standard library;
    # our own code reports what they mean (e.g. "no Kafka broker reachable").
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # kafka-python at DEBUG logs every request: too much to read, and it slows the consumer.
    logging.getLogger("kafka").setLevel(logging.INFO if level == "DEBUG" else logging.CRITICAL)


class _UnlockedStderr:
    """Writes each line to stderr's file descriptor in one system call, taking no lock.

    structlog's PrintLogger holds a lock while it prints: a signal handler that logs while the
    main thread is printing would wait for that lock for ever (and flushing stderr's buffer
    from the handler could re-enter it). Every line is printed with a flush, so nothing waits
    in that buffer; and one write of a line shorter than the pipe buffer is atomic, so it never
    lands inside another line.
    """

    def msg(self, message: str) -> None:
        os.write(sys.stderr.fileno(), (message + "\n").encode())

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def signal_safe_logger() -> Any:
    """A logger for signal handlers: the configured processors, an unlocked writer."""
    return structlog.wrap_logger(_UnlockedStderr())
